"""Mutation check: do the money tests fail when a money rule is broken?

For each mutation below, one at a time, this copies the repository (tracked and
untracked-but-not-ignored files) into a temporary directory, applies the mutation there,
runs the tests named for it and reports which of them failed. The real tree is never
modified. A mutation that no test catches is a failure of the suite: the script exits 1.

    .venv/bin/python scripts/mutation_check.py            # every mutation
    .venv/bin/python scripts/mutation_check.py --only ledger-balance-check

Not part of the default suite (it runs pytest several times: a few minutes).

Each mutation is a list of (file, old text, new text) edits: when the code it targets
moves, update ``old`` (the script stops loudly if ``old`` is not found exactly once).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Edit:
    file: str
    old: str
    new: str


@dataclass(frozen=True)
class Mutation:
    name: str
    what: str
    edits: tuple[Edit, ...]
    tests: tuple[str, ...]


MUTATIONS = (
    Mutation(
        name="ledger-balance-check",
        what="the ledger's post lets a balance go below zero (the _POST verdict's balance_after >= 0)",
        edits=(
            Edit(
                "app/ledger/service.py",
                "coalesce(bool_and(balance_after >= 0), true)",
                "coalesce(bool_and(balance_after >= 0 OR true), true)",
            ),
        ),
        tests=(
            "tests/app/test_ledger.py",
            "tests/social/test_money_races.py",
            "tests/social/test_transfers.py",
        ),
    ),
    Mutation(
        name="grab-once-per-user",
        what=(
            "a grab takes a share without the NOT claimed condition, and a second claim by the "
            "same user is merged into the first (ON CONFLICT DO UPDATE) instead of refused"
        ),
        edits=(
            Edit(
                "social/red_packets/service.py",
                "AND (SELECT is_member AND NOT claimed AND",
                "AND (SELECT is_member AND",
            ),
            Edit(
                "social/red_packets/service.py",
                "ON CONFLICT (packet_id, user_id) DO NOTHING",
                "ON CONFLICT (packet_id, user_id) DO UPDATE "
                "SET amount_fen = red_packet_claims.amount_fen + EXCLUDED.amount_fen",
            ),
        ),
        tests=(
            "tests/social/test_red_packets.py",
            "tests/social/test_money_races.py",
        ),
    ),
    Mutation(
        name="red-packet-refund-once",
        what="the red-packet refund no longer requires the packet to be open (refund_one's status condition)",
        edits=(
            Edit(
                "social/red_packets/service.py",
                '.where(RedPacket.id == packet_id, RedPacket.status == "open", RedPacket.expires_at <= now)',
                ".where(RedPacket.id == packet_id, RedPacket.expires_at <= now)",
            ),
        ),
        tests=(
            "tests/social/test_money_expiry.py",
            "tests/social/test_money_races.py",
        ),
    ),
    Mutation(
        name="transfer-refund-once",
        what="the transfer refund no longer requires the transfer to be pending (refund_one's status condition)",
        edits=(
            Edit(
                "social/transfers/service.py",
                '.where(Transfer.id == transfer_id, Transfer.status == "pending", Transfer.expires_at <= now)',
                ".where(Transfer.id == transfer_id, Transfer.expires_at <= now)",
            ),
        ),
        tests=(
            "tests/social/test_money_expiry.py",
            "tests/social/test_money_races.py",
        ),
    ),
)


def copy_tree(dest: Path) -> None:
    """The working tree as it is (tracked and untracked, not ignored files); ``var`` (the
    embedded test PostgreSQL) is shared through a symlink, so no second server starts."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    for raw in listed:
        if not raw:
            continue
        rel = raw.decode()
        src = ROOT / rel
        if not src.is_file():  # deleted in the working tree
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
    (ROOT / "var").mkdir(exist_ok=True)
    (dest / "var").symlink_to(ROOT / "var", target_is_directory=True)


def apply(dest: Path, mutation: Mutation) -> None:
    for edit in mutation.edits:
        path = dest / edit.file
        text = path.read_text()
        found = text.count(edit.old)
        if found != 1:
            raise SystemExit(
                f"mutation {mutation.name}: expected the old text exactly once in {edit.file}, "
                f"found it {found} times — the code moved, update MUTATIONS:\n  {edit.old!r}"
            )
        path.write_text(text.replace(edit.old, edit.new))


def env_for(dest: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(dest)  # the copy's packages before the editable install's
    env.pop("CI", None)
    return env


def check_imports_the_copy(dest: Path, mutation: Mutation) -> None:
    modules = {e.file.removesuffix(".py").replace("/", ".") for e in mutation.edits}
    for module in modules:
        where = subprocess.run(
            [sys.executable, "-c", f"import {module} as m; print(m.__file__)"],
            cwd=dest,
            env=env_for(dest),
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        if not Path(where).resolve().is_relative_to(dest.resolve()):
            raise SystemExit(f"{module} is imported from {where}, not from the mutated copy")


def failed_tests(junit: Path) -> list[str]:
    if not junit.exists():
        return []
    failed = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed.append(f"{case.get('classname')}::{case.get('name')}")
    return failed


def run(mutation: Mutation, *, verbose: bool) -> list[str]:
    with tempfile.TemporaryDirectory(prefix=f"mutant-{mutation.name}-") as tmp:
        dest = Path(tmp)
        copy_tree(dest)
        apply(dest, mutation)
        check_imports_the_copy(dest, mutation)
        junit = dest / "junit.xml"
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}"]
        proc = subprocess.run(
            [*cmd, *mutation.tests],
            cwd=dest,
            env=env_for(dest),
            capture_output=not verbose,
            text=True,
            timeout=1200,  # a mutant that hangs is a bug in this script's choice of tests
        )
        failed = failed_tests(junit)
        if proc.returncode not in (0, 1):  # 2+: interrupted, usage or collection error
            tail = "" if verbose else (proc.stdout or "")[-3000:] + (proc.stderr or "")[-2000:]
            raise SystemExit(f"mutation {mutation.name}: pytest exited {proc.returncode}\n{tail}")
        return failed


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", action="append", choices=[m.name for m in MUTATIONS])
    parser.add_argument("-v", "--verbose", action="store_true", help="show pytest's output")
    args = parser.parse_args()
    chosen = [m for m in MUTATIONS if not args.only or m.name in args.only]
    survivors = []
    for mutation in chosen:
        print(f"== {mutation.name}: {mutation.what}", flush=True)
        failed = run(mutation, verbose=args.verbose)
        if failed:
            print(f"   caught by {len(failed)} test(s):")
            for name in failed:
                print(f"   - {name}")
        else:
            print("   NOT CAUGHT: every test passed with the mutation")
            survivors.append(mutation.name)
    if survivors:
        print(f"mutations no test caught: {', '.join(survivors)}")
        return 1
    print(f"all {len(chosen)} mutation(s) caught")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
