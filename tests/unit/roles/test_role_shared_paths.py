"""Paths one role reads on behalf of another: the server and client roles look for the metrics role's
timer in their one host read (pppssh_host_info) and run that role with metrics off only where it is
installed. They must name the file the metrics role installs and removes."""
import os

import yaml

ROLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'roles')


def role_vars(role):
    with open(os.path.join(ROLES, role, 'vars', 'main.yml')) as handle:
        return yaml.safe_load(handle)


def test_the_server_and_client_roles_look_for_the_timer_the_metrics_role_installs():
    timer = role_vars('pppssh_server')['pppssh_server_metrics_timer']
    assert role_vars('pppssh_client')['pppssh_client_metrics_timer'] == timer
    metrics = role_vars('pppssh_metrics')
    assert timer in metrics['pppssh_metrics_removed']
    assert os.path.basename(timer) in metrics['pppssh_metrics_units']
