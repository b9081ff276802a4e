# -*- coding: utf-8 -*-
# Copyright: pppssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a host has for pppssh, read in one module call: the packages missing, kernel PPP support,
the pppd version, nftables support, the accounts and groups, small files (the allocation, keys), a
directory's listing, what sshd applies to the client accounts, and the few host facts the roles use
(the interfaces' addresses, the service manager, the OS family) without gathering facts. Each reading
was a task of its own (one module start each on the managed host, 2-5 s apiece on the bench guests,
issue 17's rerun cost).

``run`` is AnsibleModule.run_command (argv list, returns rc, stdout, stderr); the parsers are pure."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import errno
import ipaddress
import json
import os
import stat

from ansible_collections.pppssh.vpn.plugins.module_utils.processes import read_text

PPPD = '/usr/sbin/pppd'
PROC_DEVICES = '/proc/devices'
DEV_PPP = '/dev/ppp'
NFT_PROBE_TABLE = 'pppssh_probe'


def installed_packages(dpkg_output):
    """Names dpkg-query -W -f='${Package} ${db:Status-Abbrev}\\n' lists as installed ("ii")."""
    names = set()
    for line in dpkg_output.splitlines():
        words = line.split()
        if len(words) >= 2 and words[1].startswith('ii'):
            names.add(words[0])
    return names


def missing_packages(run, packages, dpkg_query):
    """The packages of ``packages`` dpkg does not list as installed, in their order; None when the
    host has no dpkg-query (then the caller installs through its package manager as before)."""
    if not packages:
        return []
    if not dpkg_query:
        return None
    _rc, out, _err = run([dpkg_query, '-W', '-f=${Package} ${db:Status-Abbrev}\n'] + list(packages))
    have = installed_packages(out)
    return [name for name in packages if name not in have]


def kernel_ppp(proc_devices, dev_ppp_is_char, modinfo_rc):
    """"present" when pppd can open /dev/ppp now (ppp in /proc/devices), "loadable" when the kernel
    can load ppp_generic on first open (a /dev/ppp node, or modinfo knows the module), else "missing"."""
    if proc_devices and 'ppp' in [line.split()[-1] for line in proc_devices.splitlines() if line.split()]:
        return 'present'
    if dev_ppp_is_char or modinfo_rc == 0:
        return 'loadable'
    return 'missing'


def read_kernel_ppp(run, modinfo):
    try:
        dev_ppp_is_char = stat.S_ISCHR(os.stat(DEV_PPP).st_mode)
    except OSError:
        dev_ppp_is_char = False
    devices = read_text(PROC_DEVICES)
    state = kernel_ppp(devices, dev_ppp_is_char, 1)
    if state == 'missing' and modinfo:   # modinfo only when nothing else told
        state = kernel_ppp(devices, dev_ppp_is_char, run([modinfo, 'ppp_generic'])[0])
    return state


def read_pppd_version(run, dpkg_query):
    """What the roles' pppd_problem filter reads: "missing", or `pppd --version` and the package line."""
    if not os.access(PPPD, os.X_OK):
        return 'missing'
    _rc, out, err = run([PPPD, '--version'])
    text = out + err
    if dpkg_query:
        rc, package, _err = run([dpkg_query, '-W', '-f=package ${Version}\n', 'ppp'])
        if rc == 0:
            text += package
    return text


def nftables(rc, output):
    """(state, message) of `nft -c add table inet pppssh_probe`: the kernel can load the table or not."""
    if rc == 0:
        return 'supported', ''
    return 'unsupported', (output.strip().splitlines() or ['nft exited %d' % rc])[0]


def read_nftables(run, nft):
    if not nft:
        return 'missing', 'nft is not installed'
    rc, out, err = run([nft, '-c', 'add', 'table', 'inet', NFT_PROBE_TABLE])
    return nftables(rc, out + err)


def getent_entries(getent_output):
    """{name: [the other fields]}, as ansible.builtin.getent sets getent_DATABASE: for passwd
    [password, uid, gid, gecos, home, shell], for group [password, gid, members]."""
    entries = {}
    for line in getent_output.splitlines():
        fields = line.split(':')
        if len(fields) >= 2 and fields[0]:
            entries[fields[0]] = fields[1:]
    return entries


def read_getent(run, getent, database):
    rc, out, err = run([getent, database])
    if rc != 0:
        raise RuntimeError('getent %s failed (rc %d): %s' % (database, rc, (err or out).strip()))
    return getent_entries(out)


def read_file(path):
    """A file's content in base64, as ansible.builtin.slurp returns it; None when it does not exist."""
    try:
        with open(path, 'rb') as handle:
            return base64.b64encode(handle.read()).decode('ascii')
    except (IOError, OSError) as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise RuntimeError('cannot read %s: %s' % (path, exc.strerror or exc))


def read_directory(path):
    """What ansible.builtin.file (state=directory) and ansible.builtin.find (regular files, hidden ones
    left out, symlinks not followed) would see of a directory: {exists, isdir, mode, uid, gid, files}."""
    try:
        info = os.lstat(path)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return {'exists': False, 'isdir': False, 'mode': None, 'uid': None, 'gid': None, 'files': []}
        raise RuntimeError('cannot read %s: %s' % (path, exc.strerror or exc))
    isdir = stat.S_ISDIR(info.st_mode)
    files = []
    if isdir:
        for name in sorted(os.listdir(path)):
            full = os.path.join(path, name)
            if not name.startswith('.') and stat.S_ISREG(os.lstat(full).st_mode):
                files.append(full)
    return {'exists': True, 'isdir': isdir, 'mode': '%04o' % stat.S_IMODE(info.st_mode),
            'uid': info.st_uid, 'gid': info.st_gid, 'files': files}


def first_member(passwd, groups, group):
    """The first account, by name, whose primary group is ``group`` (getent_entries forms); None
    without one. sshd's Match Group applies alike to every member."""
    entry = groups.get(group)
    if not entry or len(entry) < 2:
        return None
    members = sorted(name for name, fields in passwd.items() if len(fields) >= 3 and fields[2] == entry[1])
    return members[0] if members else None


# sshd -T -C needs a whole connection spec; the host and address are reserved, so no Match of a
# real network applies to them (RFC 2606, RFC 5737).
SSHD_CONNECTION = 'user=%s,host=pppssh.invalid,addr=192.0.2.1'


def read_sshd_effective(run, sshd, account):
    """{account, settings, error}: what sshd applies to ``account`` (sshd -T), or why it cannot say."""
    if not sshd:
        return {'account': account, 'settings': None, 'error': 'sshd is not installed'}
    rc, out, err = run([sshd, '-T', '-C', SSHD_CONNECTION % account])
    if rc != 0:
        return {'account': account, 'settings': None,
                'error': 'sshd -T exited %d: %s' % (rc, (err or out).strip() or 'no output')}
    return {'account': account, 'settings': out, 'error': None}


def fact_key(interface):
    """setup's key for an interface's facts: ansible_facts['eth0'], ['br_lan'] for br-lan (network_facts
    writes it, published.host_networks reads it)."""
    return interface.replace('-', '_').replace('.', '_').replace(':', '_')


def network_facts(ip_json):
    """The host's interfaces and addresses from ``ip -j addr show``, in the shape of the facts of
    setup's network subset that the collection reads (published.host_networks): {'interfaces': [...],
    KEY: {'device', 'ipv4' (the primary address) or absent, 'ipv4_secondaries', 'ipv6'}}."""
    try:
        links = json.loads(ip_json)
    except ValueError:
        raise RuntimeError('ip -j addr show printed no JSON: %r' % ip_json[:200])
    facts = {'interfaces': []}
    for link in links if isinstance(links, list) else []:
        name = link.get('ifname') if isinstance(link, dict) else None
        if not isinstance(name, str) or not name:
            continue
        ipv4, ipv6 = [], []
        for address in link.get('addr_info') or []:
            try:
                text, prefix = str(address['local']), int(address['prefixlen'])
            except (KeyError, TypeError, ValueError):
                continue
            if address.get('family') == 'inet':
                interface = ipaddress.IPv4Interface(u'%s/%d' % (text, prefix))
                entry = {'address': text, 'netmask': str(interface.netmask), 'prefix': str(prefix),
                         'network': str(interface.network.network_address)}
                ipv4.append((bool(address.get('secondary')), entry))
            elif address.get('family') == 'inet6':
                ipv6.append({'address': text, 'prefix': str(prefix), 'scope': str(address.get('scope', ''))})
        ipv4 = [entry for _secondary, entry in sorted(ipv4, key=lambda item: item[0])]
        data = {'device': name, 'ipv4_secondaries': ipv4[1:], 'ipv6': ipv6}
        if ipv4:
            data['ipv4'] = ipv4[0]
        facts['interfaces'].append(name)
        facts[fact_key(name)] = data
    facts['interfaces'].sort()
    return facts


def read_network(run, ip):
    """network_facts of this host; None without the ip command (iproute2)."""
    if not ip:
        return None
    rc, out, err = run([ip, '-j', 'addr', 'show'])
    if rc != 0:
        raise RuntimeError('ip -j addr show failed (rc %d): %s' % (rc, (err or out).strip()))
    return network_facts(out)


SYSTEMD_RUNTIME_DIRS = ('/run/systemd/system', '/dev/.run/systemd', '/dev/.systemd')
PROC_1_COMM = '/proc/1/comm'


def read_service_mgr(runtime_dirs=SYSTEMD_RUNTIME_DIRS, proc_1_comm=PROC_1_COMM):
    """'systemd' when systemd runs the host (its runtime directory, as sd_booted() and setup's
    service_mgr test it), else the name of process 1 ('unknown' when unreadable)."""
    if any(os.path.isdir(path) for path in runtime_dirs):
        return 'systemd'
    return (read_text(proc_1_comm) or '').strip() or 'unknown'


OS_RELEASE = ('/etc/os-release', '/usr/lib/os-release')
# ID or ID_LIKE word -> os_family, as setup names the families the collection's roles tell apart.
OS_FAMILIES = (('debian', 'Debian'), ('ubuntu', 'Debian'), ('rhel', 'RedHat'), ('fedora', 'RedHat'),
               ('centos', 'RedHat'), ('suse', 'Suse'), ('arch', 'Archlinux'), ('alpine', 'Alpine'))


def os_family(os_release_text):
    """setup's os_family from an os-release file: Debian for Debian and its derivatives (ID or
    ID_LIKE), RedHat, Suse, Archlinux, Alpine likewise; else the ID as given ('unknown' without)."""
    fields = {}
    for line in os_release_text.splitlines():
        key, sep, value = line.partition('=')
        if sep:
            fields[key.strip()] = value.strip().strip('"\'')
    words = [fields.get('ID', '').lower()] + fields.get('ID_LIKE', '').lower().split()
    for word, family in OS_FAMILIES:
        if word in words:
            return family
    return fields.get('ID') or 'unknown'


def read_os_family(paths=OS_RELEASE):
    for path in paths:
        text = read_text(path)
        if text is not None:
            return os_family(text)
    return 'unknown'
