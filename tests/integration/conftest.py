"""Two User-mode Linux guests with PPP-capable kernels: a server set up by hand per the HOWTO,
and a client that the module drives through Ansible.

make integration (scripts/integration.sh) runs the modules that share the site.yml fleet of
fleet.py in one pytest run per fleet, and the other modules in two more runs (lanes split by
measured time); no guest name or address is used by two modules, so no two runs start the same guest.
"""
import os

import pytest

from guests import REPO, Guest, booted, inventory, merge_figures, run_module

SERVER = Guest('itserver', '192.168.213.30')
CLIENT = Guest('itclient', '192.168.213.31')
KEY = '/etc/pppssh/keys/howto'
KNOWN_HOSTS = '/etc/pppssh/known_hosts'
TIMINGS = os.path.join(REPO, 'tests', 'output', 'integration-timings.json')


def howto_server(server, client_pubkey):
    """HOWTO sections 4.1-4.3, verbatim in spirit: user vpn, the client's key, a free sudo pppd."""
    server.sh("""set -e
id vpn >/dev/null 2>&1 || useradd --create-home --shell /bin/bash vpn
passwd -l vpn >/dev/null
install -d -m 700 -o vpn -g vpn ~vpn/.ssh
echo '%s' > ~vpn/.ssh/authorized_keys
chown vpn:vpn ~vpn/.ssh/authorized_keys; chmod 600 ~vpn/.ssh/authorized_keys
printf 'Cmnd_Alias VPN=/usr/sbin/pppd\\nvpn ALL=NOPASSWD: VPN\\n' > /etc/sudoers.d/howto-vpn
chmod 440 /etc/sudoers.d/howto-vpn; visudo -cf /etc/sudoers.d/howto-vpn >/dev/null
""" % client_pubkey.strip())


def client_key_and_pin(client, server):
    client.sh("install -d -m 700 /etc/pppssh/keys && "
              "[ -f %s ] || ssh-keygen -q -t ed25519 -N '' -C pppssh-howto -f %s" % (KEY, KEY))
    host_key = server.out('cat /etc/ssh/ssh_host_ed25519_key.pub').split()
    pin = '%s %s %s' % (server.ip, host_key[0], host_key[1])
    client.sh("echo '%s' > %s && chmod 644 %s" % (pin, KNOWN_HOSTS, KNOWN_HOSTS))
    return client.out('cat %s.pub' % KEY)


@pytest.fixture(scope='module')
def guests(tmp_path_factory):
    with booted([SERVER, CLIENT]):
        howto_server(SERVER, client_key_and_pin(CLIENT, SERVER))
        yield inventory(str(tmp_path_factory.mktemp('inv') / 'hosts.ini'), [SERVER, CLIENT])


@pytest.fixture(scope='session')
def timings():
    figures = {}
    yield figures
    merge_figures(TIMINGS, figures)


@pytest.fixture
def tunnel(guests):
    """Call pppssh_tunnel on the client with the HOWTO link's options (overridable)."""
    def call(check=False, diff=False, **overrides):
        args = {'name': 'howto', 'server': SERVER.ip, 'identity_file': KEY, 'known_hosts_file': KNOWN_HOSTS,
                'local_ip': '10.213.0.2', 'remote_ip': '10.213.0.1'}
        args.update(overrides)
        args = dict((key, value) for key, value in args.items() if value is not None)
        return run_module(guests, CLIENT.name, 'pppssh.vpn.pppssh_tunnel', args, check=check, diff=diff)
    return call
