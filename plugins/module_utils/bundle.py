# -*- coding: utf-8 -*-
# Copyright: pppssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The client bundle of one link: every file a client of a pppssh server needs, written on the controller.

For any client, managed or not (``pppssh_server_static_clients``): the pinned known_hosts line, the
peers file that the pppssh_tunnel module would write (rendered by commands.py, the same code), the
systemd unit, a ``vpn-pppssh`` script in the style of the HOWTO (section 5.2) and an OpenWrt
``pppossh`` interface section. No private key: it never leaves the host that made it.

What comes from the server (its state file entry, its host key) is untrusted like anything a managed
host gives: it is validated here (published.py) and only canonical values reach the files.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import shlex

from ansible_collections.pppssh.vpn.plugins.module_utils import commands, options, published
from ansible_collections.pppssh.vpn.plugins.module_utils.published import Refusal

# Where the client role keeps the link's key and the pinned host key (roles/pppssh_client/vars/main.yml).
KEY_DIR = '/etc/pppssh/keys'
KNOWN_HOSTS = '/etc/pppssh/known_hosts'
SCRIPT = '/usr/local/bin/vpn-pppssh'
UNIT = '/etc/systemd/system/pppssh@.service'
# The link options of pppssh_tunnel the client role takes from its pppssh_client_ variables, with the
# module's types (plugins/modules/pppssh_tunnel.py ARGUMENT_SPEC).
LINK_OPTIONS = {'persist': 'bool', 'keepalive_interval': 'int', 'keepalive_failures': 'int', 'mtu': 'int',
                'mru': 'int', 'connect_timeout': 'int', 'ipparam': 'str', 'ssh_options': 'dict', 'supervisor': 'str'}


class BundleError(ValueError):
    """A value the bundle cannot be made from: where it came from, what is wrong, the fix."""


def key_path(name):
    return '%s/%s' % (KEY_DIR, name)


def server_entry(state, name, server):
    """The validated entry of link ``name`` in ``server``'s state file, or None when it has no such client."""
    source = '%s (state file)' % server
    clients = state.get('clients') if isinstance(state, dict) else None
    if state is None or clients is None:
        return None
    if not isinstance(clients, dict):
        raise Refusal(source, 'clients', clients, 'is not a dictionary', 'rerun playbooks/site.yml on the server')
    entry = clients.get(name)
    if entry is None:
        return None
    field = 'clients.%s' % name
    if not isinstance(entry, dict):
        raise Refusal(source, field, entry, 'is not a dictionary', 'rerun playbooks/site.yml on the server')
    found = {
        'name': published.link_name(name, source, field),
        'account': published.account_name(entry.get('account'), source, field + '.account'),
        'server_ip': published.ipv4_address(entry.get('server_ip'), source, field + '.server_ip'),
        'client_ip': published.ipv4_address(entry.get('client_ip'), source, field + '.client_ip'),
        'server_ip6': published.ipv6_address(entry.get('server_ip6'), source, field + '.server_ip6'),
        'client_ip6': published.ipv6_address(entry.get('client_ip6'), source, field + '.client_ip6'),
        'pubkey': published.ed25519_public_key(entry.get('pubkey'), source, field + '.pubkey')
        if entry.get('pubkey') is not None else None,
        'compression': published.compression(entry.get('compression', 'none'), source, field + '.compression'),
        'static': entry.get('static') is True,
    }
    for suffix in ('', '6'):
        ends = (found['server_ip' + suffix], found['client_ip' + suffix])
        if bool(ends[0]) != bool(ends[1]) or (ends[0] and ends[0] == ends[1]):
            raise Refusal(source, field, entry, 'holds no usable IPv%s pair' % ('6' if suffix else '4'),
                          'rerun playbooks/site.yml on the server')
    if not found['client_ip'] and not found['client_ip6']:
        raise Refusal(source, field, entry, 'holds no tunnel address', 'rerun playbooks/site.yml on the server')
    return found


def _typed(key, value, kind, host, field=None):
    field = field or 'pppssh_client_%s' % key
    if kind == 'int':
        try:
            if isinstance(value, bool):
                raise ValueError(value)
            return int(str(value), 10)
        except ValueError:
            raise Refusal(host, field, value, 'is not a whole number', 'give a number')
    if kind == 'bool':
        text = str(value).lower()
        if text in ('true', 'yes', 'on', '1'):
            return True
        if text in ('false', 'no', 'off', '0'):
            return False
        raise Refusal(host, field, value, 'is not a boolean', 'use true or false')
    if kind == 'dict':
        if not isinstance(value, dict):
            raise Refusal(host, field, value, 'is not a dictionary', 'write it like {Ciphers: aes256-gcm@openssh.com}')
        return dict(value)
    if not isinstance(value, str):
        raise Refusal(host, field, value, 'is not a string', 'give a plain word')
    return value


def link_params(entry, address, port, link=None, host='the bundle', fields=None):
    """The pppssh_tunnel parameters of the link, as the client role passes them (roles/pppssh_client/
    tasks/link.yml): the server's view from the state entry, the rest from ``link`` ({option: value}
    of LINK_OPTIONS; unset ones take the module's defaults). ``fields`` names the variable of an option
    that is not pppssh_client_OPTION (a pppssh_client_links entry's), for the refusals."""
    params = {'name': entry['name'], 'state': 'started', 'server': address, 'port': port,
              'user': entry['account'], 'identity_file': key_path(entry['name']), 'known_hosts_file': KNOWN_HOSTS,
              'local_ip': entry['client_ip'], 'remote_ip': entry['server_ip'],
              'local_ip6': entry['client_ip6'], 'remote_ip6': entry['server_ip6'],
              'compression': entry['compression']}
    for key, value in sorted((link or {}).items()):
        if key not in LINK_OPTIONS:
            raise Refusal(host, 'link', key, 'is not a link option of the bundle',
                          'use only %s' % ', '.join(sorted(LINK_OPTIONS)))
        if value is None or value == '' or value == {}:
            continue   # the role omits these (default(omit, true)): the module's default applies
        params[key] = _typed(key, value, LINK_OPTIONS[key], host, (fields or {}).get(key))
    return params


def link_config(params):
    """options.normalise of the module, with the refusal naming the option."""
    try:
        config = options.normalise(params)
    except options.OptionError as exc:
        raise BundleError('link %s: %s' % (params.get('name'), exc))
    too_long = commands.pty_too_long(config)
    if too_long:
        raise BundleError('link %s: the ssh command line is %s bytes once quoted, more than the %d pppd reads. Fix: '
                          'shorten ssh_options' % (config['name'], too_long, commands.PPPD_MAX_WORD))
    return config


def known_hosts_line(address, port, host_key_text, server):
    """The pinned line, as the client role writes it: 'ADDRESS KEY' or '[ADDRESS]:PORT KEY'."""
    key = published.host_key(host_key_text, server)
    pattern = address if port == 22 else '[%s]:%d' % (address, port)
    return '%s %s\n' % (pattern, key)


def pppd_words(config):
    """The peers file's pppd options as command-line words (pty unquoted: one argv word)."""
    words = []
    for line in commands.pppd_options(config):
        if line.startswith('pty '):
            words.append(['pty', commands.pty_command(config)])
        else:
            words.append(line.split(' '))
    return words


def howto_script(config, server):
    """vpn-pppssh in the style of the HOWTO's script (section 5.2): start, stop and config."""
    quote = shlex.quote
    variables = [
        ('The host name or IP address of the SSH server that we are sending the connection request to:', None),
        ('SERVER_HOSTNAME', config['server']),
        ('SERVER_PORT', str(config['port'])),
        ('The account on the VPN server that runs the tunnel (its key\'s forced command starts it):', None),
        ('SERVER_USERNAME', config['user']),
        ('The VPN network interface on the server should use this address:', None),
        ('SERVER_IFIPADDR', config.get('remote_ip') or ''),
        ('...and on the client, this address:', None),
        ('CLIENT_IFIPADDR', config.get('local_ip') or ''),
    ]
    if config.get('local_ip6'):
        variables += [('The IPv6 pair of the link (server, client):', None),
                      ('SERVER_IFIPADDR6', config['remote_ip6']), ('CLIENT_IFIPADDR6', config['local_ip6'])]
    variables += [('The link\'s private key (made on this host, never copied) and the pinned host key:', None),
                  ('IDENTITY', config['identity_file']), ('KNOWN_HOSTS', config['known_hosts_file']),
                  ('pppd\'s linkname: its pidfile is /run/ppp-$LINKNAME.pid', None),
                  ('LINKNAME', commands.peer_name(config['name'])),
                  (None, None), ('PPPD', commands.PPPD), ('SSH', commands.SSH)]
    lines = ['#!/bin/sh',
             '# %s: the pppssh link %s to server %s, in the way of the VPN PPP-SSH Mini-HOWTO\'s'
             % (SCRIPT, config['name'], server),
             '# vpn-pppssh script (section 5.2), with the options of the link\'s peers file: pinned host key,',
             '# the link\'s own key and account, keepalives, no PPP authentication.',
             '# Written by pppssh.vpn (playbooks/export_client.yml) from validated values. The values below are',
             '# also inside the pppd options of "start" (its pty holds the ssh command line): export the bundle',
             '# again rather than edit them.', '']
    for name, value in variables:
        if name is None:
            lines.append('')
        elif value is None:
            lines.append('# ' + name)
        else:
            lines.append('%s=%s' % (name, quote(value)))
    lines += ['', '# The rest of this file should not need to be changed.', '',
              'if ! test -f $PPPD  ; then echo "can\'t find $PPPD";  exit 3; fi',
              'if ! test -f $SSH   ; then echo "can\'t find $SSH";   exit 4; fi', '',
              'case "$1" in', 'start)',
              '    echo "Starting vpn to $SERVER_HOSTNAME: "',
              '    mkdir -p %s %s/pppssh || exit 5' % (commands.LOG_DIR, commands.RUN_DIR),
              '    $PPPD updetach \\']
    for words in pppd_words(config):
        if config.get('local_ip') and words == ['%s:%s' % (config['local_ip'], config['remote_ip'])]:
            lines.append('        "$CLIENT_IFIPADDR:$SERVER_IFIPADDR" \\')
        else:
            lines.append('        %s \\' % ' '.join(quote(word) for word in words))
    lines[-1] = lines[-1][:-2]
    lines += ['    echo "connected."',
              '    ;;',
              'stop)',
              '    echo "Stopping vpn to $SERVER_HOSTNAME: "',
              '    PID=$(head -n 1 "/run/ppp-$LINKNAME.pid" 2>/dev/null)',
              '    if [ -n "$PID" ] && [ "$(cat "/proc/$PID/comm" 2>/dev/null)" = pppd ]; then',
              '        kill "$PID"',
              '        echo "disconnected."',
              '    else',
              '        echo "Failed to find PID for the connection"',
              '        exit 1',
              '    fi',
              '    ;;',
              'config)']
    for name, value in variables:
        if name is not None and value is not None and name not in ('PPPD', 'SSH'):
            lines.append('    echo "%s=$%s"' % (name, name))
    lines += ['    ;;', '*)', '    echo "Usage: vpn-pppssh {start|stop|config}"', '    exit 1', '    ;;', 'esac',
              'exit 0', '']
    return '\n'.join(lines)


def _uci(value):
    text = str(value)
    if "'" in text or '\n' in text or '\\' in text:
        raise BundleError('the OpenWrt section cannot hold %r' % text)
    return "'%s'" % text


def openwrt_section(config, server):
    """An interface section of /etc/config/network for OpenWrt's netifd protocol pppossh."""
    section = config['name'].replace('-', '_')
    argv = commands.ssh_argv(config)
    ssh_options = []
    index = 1
    while index < argv.index('-p'):
        word = argv[index]
        if word == '-o' and argv[index + 1].split('=', 1)[0] == 'IdentityFile':
            index += 2   # pppossh passes -i for each identity
            continue
        ssh_options.append(word)
        index += 1
    pppd = [line for line in commands.pppd_options(config)
            if line.startswith(('refuse-', 'lcp-max-configure')) or line.split(' ')[0] in (
                'silent', 'noccp', 'deflate', 'bsdcomp', 'nobsdcomp', 'nodeflate', 'nopredictor1', 'holdoff',
                'maxfail')]
    lines = ['# pppssh link %s to server %s, for OpenWrt (netifd protocol pppossh). Append this section to'
             % (config['name'], server),
             '# /etc/config/network, then: /etc/init.d/network reload (or: ifup %s).' % section,
             '# Needs the packages pppossh and openssh-client (dropbear\'s ssh cannot pin a known_hosts file):',
             '#   opkg install pppossh openssh-client',
             '# The link\'s private key belongs at %s (0600), made on the router; the known_hosts line of'
             % config['identity_file'],
             '# this bundle at %s. Written by pppssh.vpn (playbooks/export_client.yml).' % config['known_hosts_file']]
    if not config.get('local_ip'):
        return '\n'.join(lines + ['# The link carries no IPv4 pair: pppossh configures IPv4 pairs only, so this bundle',
                                  '# has no OpenWrt section for it.', ''])
    lines += ['config interface %s' % _uci(section),
              '\toption proto %s' % _uci('pppossh'),
              '\toption server %s' % _uci(config['server']),
              '\toption port %s' % _uci(config['port']),
              '\toption sshuser %s' % _uci(config['user']),
              '\tlist identity %s' % _uci(config['identity_file']),
              '\toption ipaddr %s' % _uci(config['local_ip']),
              '\toption peeraddr %s' % _uci(config['remote_ip']),
              '\toption ssh_options %s' % _uci(' '.join(ssh_options)),
              '\toption keepalive %s' % _uci('%d %d' % (config['keepalive_failures'], config['keepalive_interval'])),
              '\toption defaultroute %s' % _uci('0'),
              '\toption peerdns %s' % _uci('0'),
              '\toption ipv6 %s' % _uci('0'),
              '\toption pppd_options %s' % _uci(' '.join(pppd))]
    if config.get('mtu'):
        lines.append('\toption mtu %s' % _uci(config['mtu']))
    if config.get('local_ip6'):
        lines.insert(len(lines), '\t# The link\'s IPv6 pair (%s, server %s) is not set up by pppossh: add it by hand.'
                     % (config['local_ip6'], config['remote_ip6']))
    return '\n'.join(lines) + '\n'


def readme(config, entry, server, files, managed):
    lines = ['pppssh client bundle: link %s of server %s (%s, port %d, account %s)'
             % (config['name'], server, config['server'], config['port'], config['user']),
             '',
             'Tunnel addresses: client %s, server %s' % (config.get('local_ip') or '-', config.get('remote_ip') or '-')]
    if config.get('local_ip6'):
        lines.append('IPv6 pair: client %s, server %s' % (config['local_ip6'], config['remote_ip6']))
    lines += ['', 'Files (install as root; the peers file, the unit and the script are three ways to run the same',
              'link: use one at a time, they share its linkname and pidfile):', '']
    for item in files:
        lines.append('  %-22s %s' % (item['name'], item['about']))
    directories = (KEY_DIR, commands.LOG_DIR, commands.RUN_DIR)
    lines += ['', 'Before the first start: install -d -m 0700 %s %s %s/pppssh' % directories,
              'Needs: ppp (pppd 2.4.9 or later), openssh-client.', '', 'The private key:']
    if managed:
        lines += ['  This client is managed by Ansible: the pppssh_client role made its key at %s on the'
                  % config['identity_file'], '  client itself. It stays there; this bundle holds no private key.']
    else:
        lines += ['  This bundle holds no private key, and none ever leaves the host that made it. Make the key pair',
                  '  on the client itself (ssh-keygen -t ed25519 -N "" -f %s), keep the private key' % config['identity_file'],
                  '  there (root, 0600, directory 0700), and give its public key to the server as',
                  '  pppssh_server_static_clients: [{name: %s, pubkey: ...}].' % config['name']]
    if entry.get('pubkey'):
        lines += ['  The server authorizes exactly this public key for the link:', '    %s' % entry['pubkey']]
    return '\n'.join(lines) + '\n'


def make(state, name, server, host_key_text, address, port, link=None, unit=None, managed=False, fields=None):
    """The bundle of link ``name`` from ``server``'s view, or None when that server has no such client:
    {'name', 'static', 'files': [{name, dest, mode, about, content}]}. Raises Refusal or BundleError.
    ``fields``: see link_params."""
    entry = server_entry(state, name, server)
    if entry is None:
        return None
    address = published.server_address(address, server, 'pppssh_server_address')
    port = published.port(port, server, 'pppssh_server_ssh_port')
    config = link_config(link_params(entry, address, port, link, server, fields))
    files = [
        {'name': 'known_hosts', 'dest': config['known_hosts_file'], 'mode': '0644',
         'about': '-> %s (0644): pins the server\'s ed25519 host key' % config['known_hosts_file'],
         'content': known_hosts_line(address, port, host_key_text, server)},
        {'name': commands.peer_name(name), 'dest': commands.peers_path(name), 'mode': '0600',
         'about': '-> %s (0600): what pppssh_tunnel writes; run: pppd call %s'
                  % (commands.peers_path(name), commands.peer_name(name)),
         'content': commands.peers_file(config)},
    ]
    if unit:
        files.append({'name': 'pppssh@.service', 'dest': UNIT, 'mode': '0644',
                      'about': '-> %s: systemctl enable --now %s' % (UNIT, commands.systemd_unit(name)),
                      'content': unit})
    if config.get('local_ip6'):
        files.append({'name': 'ipv6-up', 'dest': commands.IPV6_UP_HOOK_PATH, 'mode': '0755',
                      'about': '-> %s (0755): adds the IPv6 pair when IPV6CP is up' % commands.IPV6_UP_HOOK_PATH,
                      'content': commands.IPV6_UP_HOOK})
    files += [
        {'name': 'vpn-pppssh', 'dest': SCRIPT, 'mode': '0755',
         'about': '-> %s (0755): the HOWTO way, vpn-pppssh start|stop|config' % SCRIPT,
         'content': howto_script(config, server)},
        {'name': 'openwrt-network', 'dest': None, 'mode': '0644',
         'about': 'OpenWrt: append to /etc/config/network (proto pppossh)',
         'content': openwrt_section(config, server)},
    ]
    files.append({'name': 'README', 'dest': None, 'mode': '0644', 'about': 'this file',
                  'content': readme(config, entry, server, files + [{'name': 'README', 'about': 'this file'}],
                                    managed)})
    return {'name': name, 'static': entry['static'], 'managed': bool(managed), 'files': files}
