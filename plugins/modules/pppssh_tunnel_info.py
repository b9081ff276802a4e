#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pppssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: pppssh_tunnel_info
short_description: List the PPP-over-SSH links of a host, both ends, with their history
version_added: 0.1.0
description:
  - Reports every pppssh link on the host, or the one named O(name), without changing anything.
  - A client end is a peers file C(/etc/ppp/peers/pppssh-NAME) written by M(pppssh.vpn.pppssh_tunnel)
    (it holds the link's configuration on its C(# pppssh-config:) line). A server end is a peers file of
    the C(pppssh.vpn.pppssh_server) role, without that line, whose pppd the session entry point
    C(/usr/local/sbin/pppssh-session NAME) started as C(pppd call pppssh-NAME).
  - Each link has the fields of M(pppssh.vpn.pppssh_tunnel) with O(pppssh.vpn.pppssh_tunnel#module:state=status),
    read by the same code, plus its redials since boot and the last failure with its cause and time,
    from the link's log C(/var/log/pppssh/NAME.log).
  - State comes from pppd's pidfile, C(/proc) and C(/sys/class/net), never from matching process names.
author:
  - pppssh developers (!UNKNOWN)
options:
  name:
    description:
      - Report only this link. Unset, every link on the host.
      - A name with no peers file and no running pppd gives an empty RV(links) list, not a failure.
    type: str
  server_state_file:
    description:
      - The server role's allocation (C(pppssh_server_state_file)), read to name the client host behind
        each server end (RV(links[].client)).
    type: path
    default: /etc/pppssh/server-allocations.json
notes:
  - Needs root (become) to read the peers files and the logs; without it links are missing or partial.
  - C(playbooks/status.yml) of the collection runs this module on every server and client of an inventory
    and prints one table for the fleet.
  - The server end keeps no log of its own (its pppd's messages go to syslog), so its RV(links[].redials)
    and RV(links[].last_cause) are null; the client end of the same link has them.
attributes:
  check_mode:
    description: Can run in check mode and return the same result; it never changes anything.
    support: full
  diff_mode:
    description: Returns no diff; it never changes anything.
    support: none
seealso:
  - module: pppssh.vpn.pppssh_tunnel
'''

EXAMPLES = r'''
- name: Read every pppssh link of the host
  pppssh.vpn.pppssh_tunnel_info:
  become: true
  register: pppssh_links

- name: Show the links that are not up
  ansible.builtin.debug:
    msg: "{{ item.name }} ({{ item.role }}) is {{ item.state }}: {{ item.last_error | default('no cause logged', true) }}"
  loop: "{{ pppssh_links.links | rejectattr('state', 'equalto', 'up') }}"
  loop_control:
    label: "{{ item.name }}"

- name: Read one link
  pppssh.vpn.pppssh_tunnel_info:
    name: office
  become: true
  register: office
'''

RETURN = r'''
links:
  description: The links of the host, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The link name (the client's name on a server end).
      type: str
      sample: office
    role:
      description: C(client) (this host dials), C(server) (a server end started by the session entry point), or null
        (a running pppd of a link whose peers file is gone).
      type: str
      sample: client
    interface:
      description: The link's network interface.
      type: str
      sample: ppp-office
    pid:
      description: Process id of the link's pppd, or null when it does not run.
      type: int
      sample: 1234
    state:
      description: C(up) (IPCP up, addresses set), C(connecting) (pppd runs, link not up yet) or C(down).
      type: str
      sample: up
    local_ip:
      description: Address of this end, when the interface has one.
      type: str
      sample: 10.213.0.2
    remote_ip:
      description: Address of the other end, when the interface has one.
      type: str
      sample: 10.213.0.1
    uptime_s:
      description: Seconds since the interface came up, when the link is up.
      type: int
      sample: 42
    rx_bytes:
      description: Bytes received on the interface (it is new after every redial).
      type: int
      sample: 1024
    tx_bytes:
      description: Bytes sent on the interface.
      type: int
      sample: 2048
    persist:
      description: Whether pppd redials by itself (client ends), null on a server end.
      type: bool
      sample: true
    last_error:
      description: The cause of the link's current trouble (in its log since it last came up), in words, or null.
      type: str
      sample: 'the server refused the ssh key (auth_refused): "vpn@server: Permission denied (publickey)." Fix: ...'
    cause:
      description: Short name of that current cause, or null.
      type: str
      sample: auth_refused
    server:
      description: The server a client end dials (its O(pppssh.vpn.pppssh_tunnel#module:server)); null on a server end.
      type: str
      sample: vpn.example.org
    client:
      description: On a server end, the client host the server's allocation names for this link; else null.
      type: str
      sample: office.example.org
    redials:
      description:
        - 'Attempts since boot that followed one that ended by itself (ssh exited, keepalives failed);
          a start after a stop is none. Dated by the C(pppssh: dial EPOCH) line the dialler logs as each
          attempt starts.'
        - Null when the log has no such line (a server end, or a link started by an older version).
      type: int
      sample: 3
    last_cause:
      description: The cause of the latest failure in the link's log (also when the link is up again), or null.
      type: str
      sample: peer_dead
    last_cause_time:
      description: When that failure happened, in seconds since the epoch (the redial after it, or the log's last write).
      type: int
      sample: 1796179739
    last_cause_line:
      description: The log line that named that cause.
      type: str
      sample: No response to 4 echo-requests
    config:
      description:
        - Client end, the effective configuration from the peers file (as O(pppssh.vpn.pppssh_tunnel#module:state=status)
          returns it), with C(peers_file).
        - Server end, C(name), C(interface), C(peers_file), C(account), C(local_ip) and C(remote_ip) from the allocation.
      type: dict
      sample: {name: office, server: vpn.example.org, user: vpn, local_ip: 10.213.0.2, remote_ip: 10.213.0.1}
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pppssh.vpn.plugins.module_utils import link

ARGUMENT_SPEC = dict(
    name=dict(type='str'),
    server_state_file=dict(type='path', default=link.SERVER_STATE_FILE),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    links = link.read_links(module.run_command, name=module.params['name'],
                            state_file=module.params['server_state_file'])
    module.exit_json(changed=False, links=links)


if __name__ == '__main__':
    main()
