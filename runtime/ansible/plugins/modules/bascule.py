#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: the Bascule authors
# License: MIT OR Apache-2.0
"""A thin module over the `bascule` runtime: it runs one command with `--format json` and
returns what the runtime said. It decides nothing the runtime decides; it only adds what
Ansible needs: check mode (`plan` instead of a run) and idempotence (a host already at the
bundle's version is not touched)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: bascule
short_description: Run a Bascule patch bundle's runtime on a host
description:
  - Runs one C(bascule) command (C(plan), C(apply), C(migrate), C(rollback), C(status) or
    C(verify)) on the host, always with C(--format json) where the command has it, and returns
    the parsed result.
  - C(changed) is true exactly when the host changed, as the runtime reports it; a run that failed
    and was undone, or was refused, changed nothing and fails the task.
  - Idempotent. C(apply) first reads C(bascule status) and does nothing when the platform is
    already at the bundle's version; C(migrate) first reads C(bascule plan) and does nothing when
    no migration is pending; C(rollback) does nothing when the platform is not at the bundle's
    version.
  - In check mode nothing is changed. C(apply) and C(migrate) run C(bascule plan) and report
    whether the run would change the host; C(rollback) reports whether there is a rollback to do;
    C(status), C(plan) and C(verify) only read and run as usual. When the bundle is not unpacked
    on the host yet, C(changed) is true and nothing is run.
version_added: "0.1.0"
author:
  - The Bascule authors
options:
  command:
    description: The C(bascule) command to run.
    type: str
    required: true
    choices: [plan, apply, migrate, rollback, status, verify]
  bundle:
    description:
      - The unpacked bundle directory on the host (C(bascule-2.4.0/)). Its C(bin/bascule) runs the
        command, unless O(runtime) is given.
      - Required by C(plan), C(apply), C(migrate) and C(rollback); for C(verify), the tree to
        check when O(tarball) is not given.
    type: path
  runtime:
    description:
      - The C(bascule) program to run instead of the bundle's own, for example the host's trusted
        runtime C(<state_dir>/bin/bascule) that the last apply left there.
      - Required by C(status) and by C(verify) of a O(tarball) when O(bundle) is not given.
    type: path
  host_profile:
    description:
      - The host profile (C(--host)). Every command but C(verify) uses C(/etc/bascule/host.toml)
        when it is not given; C(verify) checks the signature against the keys it pins only when it
        is given.
    type: path
  tarball:
    description:
      - For C(verify), the bundle tarball to check. Give O(runtime) = the host's trusted runtime,
        which checks the signature (C(<tarball>.minisig)) against the keys the host profile pins
        before it reads the archive.
    type: path
  confirm_checklist:
    description:
      - C(apply) only. Confirm every manual item of the patch's checklist in advance (C(--yes)), since
        an automated run has nobody at its terminal. Each item is still shown at its step, and the
        journal and the intervention sheet say it was confirmed by C(--yes).
      - The alias C(yes) must be quoted as a YAML key, since YAML reads a bare C(yes) as a
        boolean.
    type: bool
    default: false
    aliases: ["yes"]
  lock_timeout:
    description:
      - Seconds to wait for the database-side migration locks another run holds
        (C(--lock-timeout)). The runtime's default when not given.
    type: int
  allow_forbidden_time:
    description:
      - C(apply) and C(migrate). Start although the patch's policy forbids this day or hour; the
        reason goes in the run's log and report (C(--allow-forbidden-time)).
    type: str
  accept_differences:
    description:
      - C(apply) only. Run although the host differs from the bundle's rehearsal in a critical fact;
        the reason goes in the run's log and report (C(--accept-differences)).
    type: str
notes:
  - Runs C(apply) and C(rollback) with C(--no-multiplexer); C(migrate) implies it.
  - The runtime redacts database passwords in everything it prints; the module adds nothing of its
    own arguments to its output.
  - Check mode is supported; diff mode is not.
"""

EXAMPLES = r"""
- name: Apply the bundle (nothing when the host is at its version already)
  bascule.fleet.bascule:
    command: apply
    bundle: /var/lib/bascule/bundles/bascule-2.4.0
    host_profile: /etc/bascule/host.toml
    confirm_checklist: true
  register: applied

- name: The migrations, once, before the first new instance starts (rolling deploys)
  bascule.fleet.bascule:
    command: migrate
    bundle: /var/lib/bascule/bundles/bascule-2.4.0
    lock_timeout: 900
  when: inventory_hostname == ansible_play_hosts_all[0]

- name: Check the tarball with the host's trusted runtime before unpacking it
  bascule.fleet.bascule:
    command: verify
    runtime: /var/lib/bascule/bin/bascule
    tarball: /var/lib/bascule/bundles/bascule-2.4.0.tar.gz

- name: Undo the last apply of this bundle
  bascule.fleet.bascule:
    command: rollback
    bundle: /var/lib/bascule/bundles/bascule-2.4.0
"""

RETURN = r"""
result:
  description:
    - What the runtime printed, parsed. For C(apply), C(migrate) and C(rollback) a
      C(bascule.run.v1) object (C(outcome), C(ok), C(changed), C(exit_code), C(run), C(run_dir),
      C(report), C(version), C(platform_before), C(platform_after), C(steps), C(classes),
      C(errors), C(summary)); for C(plan) a C(bascule.plan.v1) object; for C(status) the status
      object (C(platform), C(platform_run), C(runs), C(unfinished)). For C(verify), C(lines), what
      it printed. Absent when nothing was run.
  returned: when a command ran
  type: dict
status:
  description: The C(bascule status) read first by C(apply) and C(rollback).
  returned: for apply and rollback
  type: dict
skipped_run:
  description: Why no run was started (already at the version, nothing pending, check mode).
  returned: when no run was started
  type: str
version:
  description: The bundle's version, from its C(MANIFEST.toml).
  returned: when the bundle is unpacked
  type: str
finished_at:
  description: When the module ended on the host, in seconds since the epoch (orders a fleet's hosts).
  returned: always
  type: float
rc:
  description: The runtime's exit status.
  returned: when a command ran
  type: int
cmd:
  description: The command line that ran.
  returned: when a command ran
  type: list
  elements: str
msg:
  description: The run's summary, as the runtime tells a person; or why nothing ran.
  returned: always
  type: str
"""

import json
import os
import re
import time

from ansible.module_utils.basic import AnsibleModule

# Each command's flags, as `bascule <command> --help` has them.
RUN_COMMANDS = ("apply", "migrate", "rollback")
NO_MULTIPLEXER = ("apply", "rollback")
HAS_BUNDLE = ("plan", "apply", "migrate", "rollback")
HAS_JSON = ("plan", "apply", "migrate", "rollback", "status")


def bundle_version(bundle):
    """The `[patch] version` of the bundle's MANIFEST.toml; None when it is not unpacked."""
    path = os.path.join(bundle, "MANIFEST.toml")
    try:
        with open(path) as manifest:
            text = manifest.read()
    except (IOError, OSError):
        return None
    section = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
            continue
        found = re.match(r'^version\s*=\s*"([^"]+)"', line)
        if section == "[patch]" and found:
            return found.group(1)
    return None


class Runtime(object):
    def __init__(self, module):
        self.module = module
        p = module.params
        self.params = p
        if p["runtime"]:
            self.program = p["runtime"]
        elif p["bundle"]:
            self.program = os.path.join(p["bundle"], "bin", "bascule")
        else:
            self.program = None

    def argv(self, command, path=None):
        p = self.params
        argv = [self.program, command]
        if path:
            argv.append(path)
        if command != "verify" or p["host_profile_given"]:
            argv += ["--host", p["host_profile"]]
        if command in HAS_BUNDLE:
            argv += ["--bundle", p["bundle"]]
        if command in HAS_JSON:
            argv += ["--format", "json"]
        if command in NO_MULTIPLEXER:
            argv.append("--no-multiplexer")
        if command in RUN_COMMANDS and p["lock_timeout"] is not None:
            argv += ["--lock-timeout", str(p["lock_timeout"])]
        if command in ("apply", "migrate") and p["allow_forbidden_time"]:
            argv += ["--allow-forbidden-time", p["allow_forbidden_time"]]
        if command == "apply":
            if p["accept_differences"]:
                argv += ["--accept-differences", p["accept_differences"]]
            if p["confirm_checklist"]:
                argv.append("--yes")
        return argv

    def run(self, command, path=None):
        """(rc, parsed JSON or None, stdout, stderr, argv)."""
        argv = self.argv(command, path)
        rc, out, err = self.module.run_command(argv)
        parsed = None
        if command in HAS_JSON:
            try:
                parsed = json.loads(out)
            except ValueError:
                parsed = None
        return rc, parsed, out, err, argv

    def json(self, command):
        """The parsed JSON of a read-only command; fails the task when there is none."""
        rc, parsed, out, err, argv = self.run(command)
        if parsed is None or (rc != 0 and command != "plan"):
            self.fail_unparsed(command, rc, out, err, argv)
        return parsed

    def fail_unparsed(self, command, rc, out, err, argv):
        self.module.fail_json(
            msg="bascule %s (exit status %s) printed no JSON result: %s"
            % (command, rc, (err or out).strip()[-2000:]),
            rc=rc,
            cmd=argv,
            stdout=out,
            stderr=err,
            finished_at=time.time(),
        )


def pending(plan):
    """The migrations `plan` found pending; None when it surveyed no class (it refused first)."""
    classes = plan.get("classes") or []
    if not classes:
        return None
    return sum(int(c.get("pending") or 0) for c in classes)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            command=dict(
                type="str",
                required=True,
                choices=["plan", "apply", "migrate", "rollback", "status", "verify"],
            ),
            bundle=dict(type="path"),
            runtime=dict(type="path"),
            host_profile=dict(type="path"),
            tarball=dict(type="path"),
            confirm_checklist=dict(type="bool", default=False, aliases=["yes"]),
            lock_timeout=dict(type="int"),
            allow_forbidden_time=dict(type="str"),
            accept_differences=dict(type="str"),
        ),
        required_if=[
            ("command", "plan", ("bundle",)),
            ("command", "apply", ("bundle",)),
            ("command", "migrate", ("bundle",)),
            ("command", "rollback", ("bundle",)),
            ("command", "status", ("runtime", "bundle"), True),
            ("command", "verify", ("tarball", "bundle"), True),
        ],
        supports_check_mode=True,
    )
    p = module.params
    p["host_profile_given"] = p["host_profile"] is not None
    if p["host_profile"] is None:
        p["host_profile"] = "/etc/bascule/host.toml"
    command = p["command"]
    runtime = Runtime(module)
    version = bundle_version(p["bundle"]) if p["bundle"] else None
    extra = {"finished_at": None}
    if version is not None:
        extra["version"] = version

    def done(**kwargs):
        kwargs.update(extra)
        kwargs["finished_at"] = time.time()
        module.exit_json(**kwargs)

    def fail(**kwargs):
        kwargs.update(extra)
        kwargs["finished_at"] = time.time()
        module.fail_json(**kwargs)

    needs_bundle = command in HAS_BUNDLE or (command == "verify" and not p["tarball"])
    if needs_bundle and version is None:
        why = "%s: no unpacked bundle there (no MANIFEST.toml)" % p["bundle"]
        if module.check_mode and command in ("apply", "migrate"):
            done(changed=True, skipped_run="check mode", msg=why + "; the real run would deliver it and %s" % command)
        if module.check_mode:
            done(changed=False, skipped_run="check mode", msg=why + ": nothing to check")
        fail(msg=why)
    if command == "verify" and p["tarball"] and not os.path.exists(p["tarball"]):
        if module.check_mode:
            done(changed=False, skipped_run="check mode", msg="%s is not delivered yet: nothing to verify" % p["tarball"])
        fail(msg="%s: no such file" % p["tarball"])
    if runtime.program is None or not os.path.exists(runtime.program):
        fail(msg="%s: no bascule runtime there" % runtime.program)

    if command == "verify":
        rc, _, out, err, argv = runtime.run("verify", p["tarball"])
        result = {"lines": out.splitlines()}
        if rc != 0:
            fail(msg=(err or out).strip(), rc=rc, cmd=argv, result=result, stderr=err)
        done(changed=False, msg=out.strip(), rc=rc, cmd=argv, result=result)

    if command in ("status", "plan"):
        rc, parsed, out, err, argv = runtime.run(command)
        if parsed is None:
            runtime.fail_unparsed(command, rc, out, err, argv)
        msg = parsed.get("text", "").strip() if command == "plan" else "platform %s" % parsed.get("platform")
        if rc != 0:
            fail(msg=msg or err.strip(), rc=rc, cmd=argv, result=parsed)
        done(changed=False, msg=msg, rc=rc, cmd=argv, result=parsed)

    # apply, migrate, rollback: first what the host is at.
    if command in ("apply", "rollback"):
        status = runtime.json("status")
        extra["status"] = status
        at_version = status.get("platform") == version
        if command == "apply" and at_version:
            done(changed=False, skipped_run="at version", msg="the platform is at %s already: nothing to apply" % version)
        if command == "rollback" and not at_version:
            done(
                changed=False,
                skipped_run="not at version",
                msg="the platform is at %s, not %s: no apply of this bundle to roll back" % (status.get("platform"), version),
            )
        if module.check_mode and command == "rollback":
            done(changed=True, skipped_run="check mode", msg="would roll back the last apply of %s" % version)
    if command == "migrate" or module.check_mode:
        plan = runtime.json("plan")
        extra["plan"] = plan
        if command == "migrate":
            count = pending(plan)
            if count == 0:
                done(changed=False, skipped_run="nothing pending", msg="no migration of %s is pending here" % version)
            if module.check_mode and count is None:
                refusals = "; ".join(plan.get("refusals") or []) or "none said"
                done(changed=True, skipped_run="check mode", msg="plan surveyed no database (%s): migrate would run" % refusals)
            if module.check_mode:
                done(changed=True, skipped_run="check mode", msg="would apply %d migration(s)" % count)
        else:
            if plan.get("action") == "refused":
                fail(msg="apply would be refused: %s" % "; ".join(plan.get("refusals") or []), result=plan)
            done(changed=bool(plan.get("changed")), skipped_run="check mode", msg=(plan.get("text") or "").strip())

    rc, parsed, out, err, argv = runtime.run(command)
    if parsed is None:
        runtime.fail_unparsed(command, rc, out, err, argv)
    outcome = dict(changed=bool(parsed.get("changed")), msg=parsed.get("summary", ""), rc=rc, cmd=argv, result=parsed)
    if not parsed.get("ok"):
        fail(**outcome)
    done(**outcome)


if __name__ == "__main__":
    main()
