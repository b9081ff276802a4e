#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pppssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: pppssh_host_info
short_description: Read what a host has for PPP over SSH (packages, kernel PPP, pppd, nftables, accounts, files, sshd) in one call
version_added: 0.1.0
description:
  - Reads, without changing anything, what the roles of this collection check before they configure a
    host, in one module call instead of one task each.
  - RV(missing_packages) names the packages of O(packages) that dpkg does not list as installed.
  - RV(kernel_ppp) says whether pppd can open C(/dev/ppp).
  - RV(pppd_version) holds C(pppd --version) and the C(ppp) package version, as the collection's
    C(pppssh.vpn.pppd_problem) filter reads them.
  - RV(nftables) says whether the kernel can load an nftables table of the C(inet) family (C(nft -c)
    checks it and creates nothing), when O(nftables) is set.
  - With O(accounts), the accounts and groups of the host are returned as the facts C(getent_passwd) and
    C(getent_group), in the form C(ansible.builtin.getent) gives them.
  - RV(files) holds the content of each file of O(files), as C(ansible.builtin.slurp) returns it, and
    RV(directories) what C(ansible.builtin.file) and C(ansible.builtin.find) would see of each directory of
    O(directories).
  - RV(sshd_effective) holds what sshd applies to the first account of the group O(sshd_group)
    (C(sshd -T -C user=ACCOUNT,...)).
  - RV(network), RV(service_mgr) and RV(os_family) are the host facts the roles use, read without gathering
    facts (the plays of the roles gather none). They are returned values, not facts, so a play
    that gathers facts keeps its own.
author:
  - pppssh developers (!UNKNOWN)
options:
  packages:
    description:
      - Packages the host needs. Those not installed are listed in RV(missing_packages).
    type: list
    elements: str
    default: []
  nftables:
    description:
      - Probe whether the kernel can load an C(inet) nftables table.
    type: bool
    default: false
  accounts:
    description:
      - Return the host's accounts (C(getent passwd)) and groups (C(getent group)) as the facts
        C(getent_passwd) and C(getent_group).
    type: bool
    default: false
  files:
    description:
      - Files to read (absolute paths). Each is returned in RV(files), base64-encoded, or null when it does not exist.
      - Meant for small files (state, keys), each read whole into memory.
    type: list
    elements: path
    default: []
  directories:
    description:
      - Directories to look at (absolute paths), returned in RV(directories).
    type: list
    elements: path
    default: []
  sshd_group:
    description:
      - A group whose members sshd serves alike (a C(Match Group) block). sshd's effective settings for its
        first member, by name, are returned in RV(sshd_effective).
    type: str
notes:
  - Only hosts with dpkg can tell which packages are missing; elsewhere RV(missing_packages) is null and the
    roles install through C(ansible.builtin.package) on every run, as they did before.
attributes:
  check_mode:
    description: Can run in check mode and return the same result; it never changes anything.
    support: full
  diff_mode:
    description: Returns no diff; it never changes anything.
    support: none
  facts:
    description: Sets the facts C(getent_passwd) and C(getent_group) when O(accounts) is set.
    support: full
'''

EXAMPLES = r'''
- name: Read what the host has for pppssh
  pppssh.vpn.pppssh_host_info:
    packages: [ppp, openssh-server, sudo]
    nftables: true
    accounts: true
    files: [/etc/pppssh/server-allocations.json]
    directories: [/etc/pppssh/keys]
    sshd_group: pppssh
  become: true
  register: pppssh_host

- name: Install what is missing
  ansible.builtin.package:
    name: "{{ pppssh_host.missing_packages }}"
    state: present
  when: pppssh_host.missing_packages is none or pppssh_host.missing_packages | length > 0
'''

RETURN = r'''
missing_packages:
  description: The packages of O(packages) that are not installed, in their order; null when the host has no dpkg-query.
  returned: always
  type: list
  elements: str
  sample: [ppp]
kernel_ppp:
  description:
    - C(present) when the kernel has PPP now, C(loadable) when it can load C(ppp_generic) on the first open of
      C(/dev/ppp), C(missing) when it has no PPP support.
  returned: always
  type: str
  sample: present
pppd_version:
  description: C(missing) when C(/usr/sbin/pppd) is not installed, else its C(--version) output and a
    C(package VERSION) line of the C(ppp) package when dpkg knows it.
  returned: always
  type: str
  sample: "pppd version 2.4.9\npackage 2.4.9-1+1.1+b1\n"
nftables:
  description: C(supported), C(unsupported) (the kernel refused the table) or C(missing) (no nft); null unless O(nftables).
  returned: always
  type: str
  sample: supported
nftables_message:
  description: Why the table cannot be loaded (nft's first line), empty when it can; null unless O(nftables).
  returned: always
  type: str
  sample: "Error: Could not process rule: Operation not supported"
files:
  description: The content of each file of O(files), by path, base64-encoded; null for a file that does not exist.
  returned: always
  type: dict
  sample: {/etc/pppssh/server-allocations.json: "eyJjbGllbnRzIjoge319Cg=="}
directories:
  description:
    - Each directory of O(directories), by path.
    - C(exists), C(isdir) (false for a symlink), C(mode) (four octal digits), C(uid), C(gid), and C(files),
      the paths of the regular files in it that are not hidden, sorted (none when it is not a directory).
  returned: always
  type: dict
  sample: {/etc/pppssh/keys: {exists: true, isdir: true, mode: "0700", uid: 0, gid: 0, files: [/etc/pppssh/keys/uplink]}}
sshd_effective:
  description:
    - null unless O(sshd_group) is set and the group has a member.
    - C(account), the member read; C(settings), the output of C(sshd -T -C) for it (null when sshd could not
      tell); C(error), why not (null when it could).
  returned: always
  type: dict
  sample: {account: pppssh-uplink, settings: "port 22\nallowtcpforwarding no\n", error: null}
network:
  description:
    - The host's interfaces and their addresses (C(ip -j addr show)), in the shape of the facts of the network
      subset of C(ansible.builtin.setup), so that either can be given where the collection reads one.
    - C(interfaces), the interface names, sorted; and for each interface, under its name with C(-), C(.) and
      C(:) turned into C(_), C(device), C(ipv4) (the primary address, absent without one),
      C(ipv4_secondaries) and C(ipv6) (C(address), C(prefix), C(scope)).
    - null when the host has no C(ip) command.
  returned: always
  type: dict
  sample: {interfaces: [eth0, lo], eth0: {device: eth0, ipv4: {address: 192.0.2.10, netmask: 255.255.255.0,
           network: 192.0.2.0, prefix: "24"}, ipv4_secondaries: [], ipv6: []}}
service_mgr:
  description: C(systemd) when systemd runs the host (as C(ansible_facts.service_mgr) tells it), else the name of
    process 1, or C(unknown).
  returned: always
  type: str
  sample: systemd
os_family:
  description: The family C(ansible_facts.os_family) names, from C(/etc/os-release) (C(Debian) for Debian and
    Ubuntu, C(RedHat), C(Suse), C(Archlinux), C(Alpine)); else the release's C(ID), or C(unknown).
  returned: always
  type: str
  sample: Debian
ansible_facts:
  description: The facts this module sets.
  returned: when O(accounts) is set
  type: dict
  contains:
    getent_passwd:
      description: The accounts, by name, as C([password, uid, gid, gecos, home, shell]) strings.
      type: dict
      sample: {root: ["x", "0", "0", "root", "/root", "/bin/bash"]}
    getent_group:
      description: The groups, by name, as C([password, gid, members]) strings.
      type: dict
      sample: {pppssh: ["x", "998", ""]}
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pppssh.vpn.plugins.module_utils import host_probe

SBIN = ['/sbin', '/usr/sbin']


def main():
    module = AnsibleModule(
        argument_spec=dict(
            packages=dict(type='list', elements='str', default=[]),
            nftables=dict(type='bool', default=False),
            accounts=dict(type='bool', default=False),
            files=dict(type='list', elements='path', default=[]),
            directories=dict(type='list', elements='path', default=[]),
            sshd_group=dict(type='str'),
        ),
        supports_check_mode=True,
    )
    run = module.run_command
    dpkg_query = module.get_bin_path('dpkg-query')
    result = dict(
        changed=False,
        missing_packages=host_probe.missing_packages(run, module.params['packages'], dpkg_query),
        kernel_ppp=host_probe.read_kernel_ppp(run, module.get_bin_path('modinfo', opt_dirs=SBIN)),
        pppd_version=host_probe.read_pppd_version(run, dpkg_query),
        nftables=None,
        nftables_message=None,
        service_mgr=host_probe.read_service_mgr(),
        os_family=host_probe.read_os_family(),
    )
    if module.params['nftables']:
        result['nftables'], result['nftables_message'] = host_probe.read_nftables(
            run, module.get_bin_path('nft', opt_dirs=SBIN))
    try:
        result['network'] = host_probe.read_network(run, module.get_bin_path('ip', opt_dirs=SBIN))
        result['files'] = dict((path, host_probe.read_file(path)) for path in module.params['files'])
        result['directories'] = dict((path, host_probe.read_directory(path)) for path in module.params['directories'])
        result['sshd_effective'] = None
        if module.params['accounts'] or module.params['sshd_group']:
            getent = module.get_bin_path('getent', required=True)
            accounts = dict(('getent_' + database, host_probe.read_getent(run, getent, database))
                            for database in ('passwd', 'group'))
            if module.params['accounts']:
                result['ansible_facts'] = accounts
            if module.params['sshd_group']:
                account = host_probe.first_member(accounts['getent_passwd'], accounts['getent_group'],
                                                  module.params['sshd_group'])
                if account:
                    result['sshd_effective'] = host_probe.read_sshd_effective(
                        run, module.get_bin_path('sshd', opt_dirs=SBIN), account)
    except RuntimeError as exc:
        module.fail_json(msg=str(exc), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
