#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pppssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: pppssh_files
short_description: Write, create or remove a set of root-owned files in one call, validated before any is written
version_added: 0.1.0
description:
  - The roles of this collection install each host's files (peers files, authorized keys, sudoers and sshd
    drop-ins, hooks, units) through this one module call instead of one task per file, which made a rerun
    with nothing to change cost one module start per file on the managed host.
  - Every new content with a O(files[].validate) command is checked first; when one fails, nothing is
    written, created or removed, and the error names the file and the validator's output.
  - Each file is then written atomically (a temporary file in its directory with the entry's owner, group
    and mode, then a rename), in the order of O(files); the paths of O(remove) go last.
author:
  - pppssh developers (!UNKNOWN)
options:
  files:
    description:
      - The entries, applied in this order. Put a directory before the files it holds.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Absolute path of the file or directory.
        type: path
        required: true
      state:
        description:
          - V(file) writes O(files[].content); V(directory) creates the directory (not its parents).
        type: str
        choices: [file, directory]
        default: file
      content:
        description: The whole content of a V(file) entry (UTF-8). Required for V(file).
        type: str
      mode:
        description: Octal mode as a string, for example V("0644").
        type: str
        required: true
      owner:
        description: Owner of a V(file) or V(directory) entry.
        type: str
        default: root
      group:
        description: Group of a V(file) or V(directory) entry.
        type: str
        default: root
      validate:
        description:
          - Command run on the new content before anything is written, with C(%s) replaced by the path of a
            temporary copy, for example V(visudo -cf %s). Only when the content changes; not in check mode.
        type: str
  remove:
    description:
      - Paths to remove, after O(files) are written; a directory goes with everything in it. A path that
        is not there is no change.
    type: list
    elements: path
    default: []
attributes:
  check_mode:
    description: Reports what it would change and changes nothing; validators do not run.
    support: full
  diff_mode:
    description: One diff per changed entry (content, mode, owner, group, or the entry's state).
    support: full
'''

EXAMPLES = r'''
- name: Install a sudo rule and its directory, and remove an old drop-in
  pppssh.vpn.pppssh_files:
    files:
      - path: /etc/sudoers.d/example
        content: "vpn ALL=(root) NOPASSWD: /usr/local/sbin/example\n"
        mode: "0440"
        validate: visudo -cf %s
    remove:
      - /etc/ssh/sshd_config.d/old.conf
  register: example_files
  notify: Reload sshd
'''

RETURN = r'''
written:
  description: Entries created, rewritten, or whose mode, owner or group were set, in the order of O(files).
  returned: always
  type: list
  elements: str
  sample: [/etc/sudoers.d/example]
removed:
  description: Paths of O(remove) that existed and were removed.
  returned: always
  type: list
  elements: str
  sample: [/etc/ssh/sshd_config.d/old.conf]
'''

import grp
import os
import pwd
import re
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text

MODE = re.compile(r'0?[0-7]{3,4}')


def check_entry(entry):
    """The cause of a malformed entry, or None."""
    path, state = entry['path'], entry['state']
    if not os.path.isabs(path):
        return '%s: path must be absolute' % path
    if not MODE.fullmatch(entry['mode']):
        return '%s: mode must be octal digits as a string, like "0644" (got %r)' % (path, entry['mode'])
    if state == 'file' and entry['content'] is None:
        return '%s: a file entry needs content' % path
    return None


def current_content(path):
    """The bytes of the file at path, None when nothing is there; raises when it is no regular file."""
    if not os.path.lexists(path):
        return None
    if os.path.islink(path) or not os.path.isfile(path):
        raise ValueError('%s exists and is not a regular file: remove it by hand' % path)
    with open(path, 'rb') as handle:
        return handle.read()


def validate(module, entry, data):
    """Run the entry's validator on a temporary copy of data; fail the module when it refuses it."""
    command = entry['validate']
    if '%s' not in command:
        module.fail_json(msg='%s: validate must contain %%s (got %r)' % (entry['path'], command))
    fd, tmp = tempfile.mkstemp(dir=module.tmpdir)
    with os.fdopen(fd, 'wb') as handle:
        handle.write(data)
    os.chmod(tmp, int(entry['mode'], 8))
    rc, out, err = module.run_command(command % tmp)
    if rc != 0:
        module.fail_json(msg='%s: the new content failed "%s" (rc %d), nothing was written: %s'
                         % (entry['path'], command, rc, (err or out).strip()))


def file_args(entry):
    return dict(path=entry['path'], mode=int(entry['mode'], 8), owner=entry['owner'], group=entry['group'],
                secontext=None, seuser=None, serole=None, selevel=None, setype=None, attributes=None)


def replace(module, entry, data):
    """Write data to entry's path atomically, never visible with other attributes than the entry's."""
    path = entry['path']
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        module.fail_json(msg='%s: its directory does not exist (list the directory first)' % path)
    try:
        uid, gid = pwd.getpwnam(entry['owner']).pw_uid, grp.getgrnam(entry['group']).gr_gid
    except KeyError:
        module.fail_json(msg='%s: no such owner %r or group %r' % (path, entry['owner'], entry['group']))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix='.pppssh-')
    try:
        with os.fdopen(fd, 'wb') as handle:
            os.fchown(handle.fileno(), uid, gid)
            os.fchmod(handle.fileno(), int(entry['mode'], 8))
            handle.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        module.fail_json(msg='%s: cannot write it: %s' % (path, to_native(exc)))


def remove(module, path, diffs):
    """Remove path (or only report it in check mode). True when it was there."""
    if not os.path.lexists(path):
        return False
    kind = 'directory' if os.path.isdir(path) and not os.path.islink(path) else 'file'
    diffs.append(dict(before_header=path, after_header=path, before=dict(path=path, state=kind),
                      after=dict(path=path, state='absent')))
    if not module.check_mode:
        if kind == 'directory':
            shutil.rmtree(path)
        else:
            os.unlink(path)
    return True


def apply_entry(module, entry, data, before, diffs):
    """Apply one entry (or only report it in check mode). True when it changed.

    data is the new content of a file entry (None for a directory), before what the file holds now.
    """
    path = entry['path']
    diff = dict(before_header=path, after_header=path, before={}, after={})
    changed = False
    if entry['state'] == 'directory':
        if os.path.lexists(path) and not os.path.isdir(path):
            module.fail_json(msg='%s exists and is not a directory: remove it by hand' % path)
        if not os.path.isdir(path):
            diff['before'], diff['after'] = dict(path=path, state='absent'), dict(path=path, state='directory')
            changed = True
            if not module.check_mode:
                os.mkdir(path, int(entry['mode'], 8))
    elif before != data:
        diffs.append(dict(before_header=path, after_header=path,
                          before=to_text(before or b'', errors='surrogate_or_replace'),
                          after=to_text(data, errors='surrogate_or_replace')))
        changed = True
        if not module.check_mode:
            replace(module, entry, data)
    # In check mode a new entry is not there yet: it gets its attributes when it is made.
    if os.path.lexists(path) and module.set_fs_attributes_if_different(file_args(entry), False, diff):
        changed = True
    if diff['before'] or diff['after']:
        diffs.append(diff)
    return changed


def main():
    module = AnsibleModule(
        argument_spec=dict(
            files=dict(type='list', elements='dict', required=True, options=dict(
                path=dict(type='path', required=True),
                state=dict(type='str', choices=['file', 'directory'], default='file'),
                content=dict(type='str'),
                mode=dict(type='str', required=True),
                owner=dict(type='str', default='root'),
                group=dict(type='str', default='root'),
                validate=dict(type='str'),
            )),
            remove=dict(type='list', elements='path', default=[]),
        ),
        supports_check_mode=True,
    )
    entries = module.params['files']
    for path in module.params['remove']:
        if not os.path.isabs(path):
            module.fail_json(msg='%s: a path to remove must be absolute' % path)
    for entry in entries:
        cause = check_entry(entry)
        if cause:
            module.fail_json(msg=cause)

    # All reads and validations first: a refused content leaves every entry as it was.
    planned = []
    for entry in entries:
        data = before = None
        if entry['state'] == 'file':
            data = to_bytes(entry['content'], errors='surrogate_or_strict')
            try:
                before = current_content(entry['path'])
            except ValueError as exc:
                module.fail_json(msg=to_native(exc))
            if before != data and entry['validate'] and not module.check_mode:
                validate(module, entry, data)
        planned.append((entry, data, before))

    diffs = []
    written = [entry['path'] for entry, data, before in planned if apply_entry(module, entry, data, before, diffs)]
    removed = [path for path in module.params['remove'] if remove(module, path, diffs)]

    result = dict(changed=bool(written or removed), written=written, removed=removed)
    if module._diff:
        result['diff'] = diffs
    module.exit_json(**result)


if __name__ == '__main__':
    main()
