#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pppssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: pppssh_tunnel
short_description: Start, stop and report a PPP-over-SSH VPN link
version_added: 0.1.0
description:
  - Runs the link of the VPN PPP-SSH Mini-HOWTO on the client, C(pppd pty "ssh server sudo pppd ..."),
    with one pppd per link name, a pinned server host key and keepalives at both layers.
  - Writes every option of the link to the root-owned peers file C(/etc/ppp/peers/pppssh-NAME) and
    starts it with C(pppd call pppssh-NAME), so a boot unit runs exactly the same link.
  - Reads the link's state back from pppd's pidfile, C(/proc) and C(/sys/class/net); never matches
    process names and never uses C(killall).
  - A start that fails stops everything it started and names the cause (kernel without PPP, host key
    unknown or changed, ssh key refused, sudo refused, server unreachable, address clash, timeout).
author:
  - pppssh developers (!UNKNOWN)
options:
  name:
    description:
      - Link name, 1 to 11 characters, a lowercase letter first, then lowercase letters, digits, C(_) or C(-).
      - The interface is C(ppp-NAME), the pidfile C(/run/ppp-pppssh-NAME.pid), the peers file
        C(/etc/ppp/peers/pppssh-NAME) and the log C(/var/log/pppssh/NAME.log).
    type: str
    required: true
  state:
    description:
      - C(started) brings the link up if it is not up with this configuration; a running link whose
        configuration differs is restarted.
      - C(stopped) stops it; C(restarted) always cycles it; C(status) only reports.
      - To read links, use M(pppssh.vpn.pppssh_tunnel_info) (read-only, every link of the host or one,
        both ends, with redials since boot and the last failure and its time). C(status) stays for
        compatibility and reports the same fields for one link.
      - C(absent) stops it and removes its peers file.
    type: str
    choices: [started, stopped, restarted, status, absent]
    default: started
  server:
    description: Host name or address of the SSH server. Required for O(state=started) and O(state=restarted).
    type: str
  port:
    description: SSH port of the server.
    type: int
    default: 22
  user:
    description: Unprivileged user on the server that runs pppd through sudo. C(root) is refused.
    type: str
    default: vpn
  identity_file:
    description: Private key used to log in to the server. Only this key is offered.
    type: path
  known_hosts_file:
    description:
      - File holding the server's pinned host key. Unknown or changed keys are always refused
        (C(StrictHostKeyChecking=yes)); when unset, root's own known_hosts applies.
    type: path
  local_ip:
    description: Address of this end of the tunnel. Set both ends, or neither when the server assigns them.
    type: str
  remote_ip:
    description: Address of the server's end of the tunnel.
    type: str
  local_ip6:
    description:
      - IPv6 address of this end. Set both ends to carry IPv6 (IPV6CP); when unset the link carries IPv4 only.
      - The interface identifiers IPV6CP agrees on are the last 64 bits of the two addresses, so those must
        differ. pppd sets only the link-local addresses; the hook C(/etc/ppp/ipv6-up.d/pppssh), which the
        module writes, adds this pair when the link comes up (pppd 2.4.8 or later, for its C(set) option).
    type: str
  remote_ip6:
    description: IPv6 address of the server's end of the tunnel.
    type: str
  remote_command:
    description:
      - Command run on the server. The default is the HOWTO's. A server set up by the C(pppssh_server)
        role forces its own per-client command whatever is sent here.
      - "On a server set up by hand per the HOWTO, the rule C(vpn ALL=NOPASSWD: /usr/sbin/pppd) that this
        default needs gives root on that server to every holder of the key (C(sudo pppd plugin ...)):
        prefer the C(pppssh_server) role, or a sudo rule for one fixed C(pppd call PEER) and a forced
        command."
    type: str
    default: sudo -n /usr/sbin/pppd nodetach notty noauth
  persist:
    description:
      - Let pppd redial by itself when the link drops (C(persist), C(maxfail 0)).
      - Attempts less than a minute apart form a failing streak; from the fifth on, each waits 2, 4, 8,
        16, then 30 s before ssh, so a refused or revoked client makes a few attempts a minute, not one
        a second. A link that was up for a minute redials at once.
    type: bool
    default: true
  holdoff:
    description: Seconds pppd waits before redialling.
    type: int
    default: 1
  keepalive_interval:
    description:
      - Seconds between LCP echo requests, also used as ssh's C(ServerAliveInterval).
      - A dead link is noticed within O(keepalive_interval) times O(keepalive_failures) seconds after the
        first unanswered echo, which goes out up to one interval after the path dies; so at most
        O(keepalive_interval) times (O(keepalive_failures) + 1) seconds, 15 s with the defaults.
    type: int
    default: 3
  keepalive_failures:
    description: Missed LCP echoes (and ssh alive messages) after which the link counts as dead.
    type: int
    default: 4
  mtu:
    description: MTU pppd asks for. Unset lets pppd negotiate.
    type: int
  mru:
    description: MRU pppd asks for. Unset lets pppd negotiate.
    type: int
  compression:
    description: PPP compression (CCP). SSH already compresses when asked to; C(none) saves CPU.
    type: str
    choices: [none, deflate, bsdcomp]
    default: none
  connect_timeout:
    description: Seconds to wait for the link to come up (also ssh's C(ConnectTimeout)).
    type: int
    default: 30
  ipparam:
    description: Value passed to the ip-up/ip-down scripts as C(PPP_IPPARAM) (HOWTO section 7.2).
    type: str
    default: vpn
  ssh_options:
    description:
      - Extra C(ssh -o) options, from an allowlist (for example C(Ciphers), C(IPQoS), C(ProxyJump)).
      - Options that run programs or weaken host key checking are refused; values may not hold spaces or quotes.
    type: dict
    default: {}
  supervisor:
    description:
      - Who keeps pppd running. C(pppd) starts it directly; C(systemd) starts and stops the unit
        C(pppssh@NAME.service) (installed by the C(pppssh_client) role), so the unit stays the only supervisor.
    type: str
    choices: [pppd, systemd]
    default: pppd
notes:
  - Needs root on the client, and a kernel with PPP support (C(/dev/ppp)).
  - Supports check mode (predicts C(changed)) and diff mode (the peers file before and after).
attributes:
  check_mode:
    description: Can run in check mode and return the predicted changed status without modifying the target.
    support: full
  diff_mode:
    description: Returns details on what has changed (or would change in check mode) in diff mode.
    support: full
seealso:
  - module: pppssh.vpn.pppssh_tunnel_info
  - name: VPN PPP-SSH Mini-HOWTO
    description: The technique this module automates.
    link: https://tldp.org/HOWTO/ppp-ssh/
'''

EXAMPLES = r'''
- name: Bring up the tunnel to the office
  pppssh.vpn.pppssh_tunnel:
    name: office
    server: vpn.example.org
    identity_file: /etc/pppssh/keys/office
    known_hosts_file: /etc/pppssh/known_hosts
    local_ip: 10.213.0.2
    remote_ip: 10.213.0.1

- name: Report the link without changing anything (pppssh.vpn.pppssh_tunnel_info is the way to read)
  pppssh.vpn.pppssh_tunnel:
    name: office
    state: status
  register: office_link

- name: Stop the link
  pppssh.vpn.pppssh_tunnel:
    name: office
    state: stopped
'''

RETURN = r'''
interface:
  description: The link's network interface.
  returned: always
  type: str
  sample: ppp-office
pid:
  description: Process id of the link's pppd, or null when it does not run.
  returned: always
  type: int
  sample: 1234
state:
  description: C(up) (IPCP up, addresses set), C(connecting) (pppd runs, link not up yet) or C(down).
  returned: always
  type: str
  sample: up
local_ip:
  description: Address of this end, when the link is up.
  returned: always
  type: str
  sample: 10.213.0.2
remote_ip:
  description: Address of the server's end, when the link is up.
  returned: always
  type: str
  sample: 10.213.0.1
local_ip6:
  description: IPv6 address of this end (not the link-local one), when the link is up and carries IPv6.
  returned: always
  type: str
  sample: fd13:213::2
remote_ip6:
  description: IPv6 address of the server's end, when the link is up and carries IPv6.
  returned: always
  type: str
  sample: fd13:213::1
uptime_s:
  description: Seconds since the interface came up.
  returned: always
  type: int
  sample: 42
rx_bytes:
  description: Bytes received on the interface.
  returned: always
  type: int
  sample: 1024
tx_bytes:
  description: Bytes sent on the interface.
  returned: always
  type: int
  sample: 2048
persist:
  description: Whether pppd redials by itself (from the effective configuration).
  returned: always
  type: bool
  sample: true
last_error:
  description: The last failure cause found in the link's log, in words, or null.
  returned: always
  type: str
  sample: 'the server refused the ssh key (auth_refused): "vpn@server: Permission denied (publickey)."'
cause:
  description: Short name of the failure cause (also on failure), or null.
  returned: always
  type: str
  sample: auth_refused
config:
  description: The effective configuration (the HOWTO's C(vpn-pppssh config)), with the peers file path.
  returned: always
  type: dict
  sample: {name: office, server: vpn.example.org, user: vpn, local_ip: 10.213.0.2, remote_ip: 10.213.0.1}
'''

import os
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pppssh.vpn.plugins.module_utils import causes, commands, link, options
from ansible_collections.pppssh.vpn.plugins.module_utils.supervisor import LinkError, LinkLock, Supervisor

ARGUMENT_SPEC = dict(
    name=dict(type='str', required=True),
    state=dict(type='str', default='started', choices=['started', 'stopped', 'restarted', 'status', 'absent']),
    server=dict(type='str'),
    port=dict(type='int', default=22),
    user=dict(type='str', default='vpn'),
    identity_file=dict(type='path'),
    known_hosts_file=dict(type='path'),
    local_ip=dict(type='str'),
    remote_ip=dict(type='str'),
    local_ip6=dict(type='str'),
    remote_ip6=dict(type='str'),
    remote_command=dict(type='str', default=options.DEFAULT_REMOTE_COMMAND),
    persist=dict(type='bool', default=True),
    holdoff=dict(type='int', default=1),
    keepalive_interval=dict(type='int', default=3),
    keepalive_failures=dict(type='int', default=4),
    mtu=dict(type='int'),
    mru=dict(type='int'),
    compression=dict(type='str', default='none', choices=list(options.COMPRESSIONS)),
    connect_timeout=dict(type='int', default=30),
    ipparam=dict(type='str', default='vpn'),
    ssh_options=dict(type='dict', default={}),
    supervisor=dict(type='str', default='pppd', choices=list(options.SUPERVISORS)),
)


def write_root_file(module, path, content, mode=0o600):
    """Atomically write a root-owned file, 0600 unless told (it may name keys and addresses)."""
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o750)   # Debian's /etc/ppp/peers is 2750 root:dip; never world-readable
    # A fresh name, created exclusively: a file or symlink planted at a fixed temp name is never followed.
    fd, temp = tempfile.mkstemp(dir=directory, prefix='.%s.' % os.path.basename(path), suffix='.pppssh-tmp')
    try:
        with os.fdopen(fd, 'w') as handle:
            handle.write(content)
        module.atomic_move(temp, path)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
    # atomic_move gives a new file the umask's mode (0644) and keeps an old file's mode: enforce ours.
    os.chmod(path, mode)


def restore_file(module, path, content):
    if content is None:
        if os.path.exists(path):
            os.unlink(path)
    else:
        write_root_file(module, path, content)


def preflight(module, config):
    """Environment problems that are cheaper to name now than to find in a log."""
    if not os.path.exists(commands.PPPD):
        module.fail_json(msg='pppd is not installed at %s: install the ppp package' % commands.PPPD,
                         cause='pppd_missing')
    for field in ('identity_file', 'known_hosts_file'):
        path = config.get(field)
        if path and not os.path.isfile(path):
            message = '%s: %s does not exist. Fix: create it first (the pppssh_client role does)' % (field, path)
            if module.check_mode:
                # A check run before the key exists: predict the start, do not fail the run.
                module.warn(message)
            else:
                module.fail_json(msg=message, cause='%s_missing' % field)
    if config.get('local_ip'):
        rc, out, _err = module.run_command(['ip', '-4', '-o', 'addr', 'show'])
        clash = options.address_clash(config, out if rc == 0 else '')
        if clash:
            module.fail_json(msg='%s: tunnel address %s lies in %s on %s of this host. Fix: choose a '
                                 'local_ip/remote_ip pair outside every network present on this host and '
                                 'on the server' % clash, field=clash[0], cause='address_in_use')


def result_from(status, config, last_error=None, cause=None):
    result = dict((key, status[key]) for key in
                  ('interface', 'pid', 'state', 'local_ip', 'remote_ip', 'local_ip6', 'remote_ip6', 'uptime_s',
                   'rx_bytes', 'tx_bytes'))
    config = dict(config, peers_file=commands.peers_path(config['name']))
    result.update(persist=config.get('persist'), config=config, last_error=last_error, cause=cause)
    return result


def run(module):
    params = module.params
    try:
        config = options.normalise(params)
    except options.OptionError as exc:
        module.fail_json(msg=str(exc), field=exc.field, cause='invalid_option')
    too_long = commands.pty_too_long(config) if 'server' in config else None
    if too_long:
        module.fail_json(msg='remote_command: the ssh command line is %s bytes once quoted, more than the %d pppd '
                             'reads. Fix: shorten remote_command, ssh_options or the file paths'
                         % (too_long, commands.PPPD_MAX_WORD),
                         field='remote_command', cause='invalid_option')

    name, state = config['name'], params['state']
    peers = commands.peers_path(name)
    supervisor = Supervisor(module, name, config['interface'], config.get('supervisor', 'pppd'))
    wanted = commands.peers_file(config) if state in ('started', 'restarted') else None

    with LinkLock(name):
        current = link.read_text(peers)
        # The one reader of a link's state and current cause, shared with pppssh_tunnel_info.
        status = link.observe(name, config['interface'], module.run_command)
        running = status['pid'] is not None
        last_error, cause = status['last_error'], status['cause']
        if state in ('status', 'stopped', 'absent'):
            config = dict(commands.config_from_peers_file(current) or {}, **config)

        if state == 'status':
            module.exit_json(changed=False, **result_from(status, config, last_error, cause))

        if state in ('stopped', 'absent'):
            changed = running or (state == 'absent' and current is not None)
            diff = dict(before=current or '', after=current if state == 'stopped' else '')
            if changed and not module.check_mode:
                try:
                    supervisor.stop()
                except LinkError as exc:
                    module.fail_json(msg=str(exc), cause='stop_failed')
                if state == 'absent' and current is not None:
                    os.unlink(peers)
                status = supervisor.status()
            elif changed:
                status = dict(status, state='down', pid=None)
            module.exit_json(changed=changed, diff=diff, **result_from(status, config, last_error, cause))

        preflight(module, config)
        hook_missing = bool(config.get('local_ip6')) and link.read_text(commands.IPV6_UP_HOOK_PATH) != commands.IPV6_UP_HOOK
        drift = current != wanted or hook_missing
        needs_start = state == 'restarted' or drift or status['state'] == 'down'
        diff = dict(before=current or '', after=wanted, before_header=peers, after_header=peers)
        if not needs_start:
            if status['state'] == 'connecting':
                status = wait_connecting(module, supervisor, config)
            module.exit_json(changed=False, diff=diff, **result_from(status, config, last_error, cause))
        if module.check_mode:
            module.exit_json(changed=True, diff=diff, **result_from(dict(status, state='up'), config))

        try:
            if running:
                supervisor.stop()
            write_root_file(module, peers, wanted)
            if hook_missing:
                write_root_file(module, commands.IPV6_UP_HOOK_PATH, commands.IPV6_UP_HOOK, 0o755)
            if not os.path.isdir(commands.LOG_DIR):
                os.makedirs(commands.LOG_DIR, 0o750)
            status = supervisor.start(config['connect_timeout'])
        except LinkError as exc:
            if drift:
                restore_file(module, peers, current)
            failed = result_from(supervisor.status(), config, str(exc), exc.cause and exc.cause['cause'])
            module.fail_json(msg='link %s failed to start: %s' % (name, exc), **failed)
        module.exit_json(changed=True, diff=diff, **result_from(status, config))


def wait_connecting(module, supervisor, config):
    """A running pppd still dialling: give it connect_timeout to come up, leave it running either way."""
    status = supervisor.status()
    waited = 0.0
    while status['state'] == 'connecting' and waited < config['connect_timeout']:
        time.sleep(0.5)
        waited += 0.5
        status = supervisor.status()
    if status['state'] != 'up':
        logged = link.current_cause(config['name'])
        module.fail_json(msg='link %s is running but not up after %d s (pppd keeps redialling): %s'
                         % (config['name'], config['connect_timeout'],
                            causes.describe(logged) if logged else 'no cause in the log yet'),
                         **result_from(status, config, cause=logged and logged['cause']))
    return status


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        required_if=[('state', 'started', ('server',)), ('state', 'restarted', ('server',))],
        required_together=[('local_ip', 'remote_ip'), ('local_ip6', 'remote_ip6')],
        supports_check_mode=True,
    )
    run(module)


if __name__ == '__main__':
    main()
