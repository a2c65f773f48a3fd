"""Signed approvals of a saved plan, in OpenSSH's signature format (`ssh-keygen -Y sign` / `-Y verify`).

    signature = sign(message, Path("~/.ssh/id_ed25519"))    # `remediate plan approve PLAN --key KEY`
    approvers = check(message, signatures, load_allowed_signers(path), minimum=2)   # `run --plan ... --allowed-signers`

A change board signs with the SSH keys its members already have; who may approve is an allowed_signers file in
git's (and ssh-keygen's) format: `principal[,principal...] [namespaces="remediate-plan"] KEYTYPE BASE64 [comment]`.
Signing is ssh-keygen's own work (the approver's key, agent and passphrase stay theirs); checking is done here
with the `sshsig` library, so a run needs no ssh-keygen. Ed25519 and RSA keys are supported.
"""

from __future__ import annotations

import fnmatch
import io
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import sshsig
from sshsig.allowed_signers import AllowedSigner, load_allowed_signers_file
from sshsig.ssh_public_key import PublicKey

from remediate.errors import Location, StalePlanError, UsageError
from remediate.i18n import _

NAMESPACE = "remediate-plan"  # what a plan signature is for: a signature made for git or a file is not one


@dataclass(frozen=True)
class Signer:
    """One line of an allowed_signers file."""

    principals: tuple[str, ...]
    key: PublicKey
    namespaces: tuple[str, ...] | None  # None: any namespace
    line: int


@dataclass(frozen=True)
class Approver:
    """A valid signature of the plan, and who made it."""

    principal: str
    fingerprint: str  # SHA256:… of the signing key, as ssh-keygen -l shows it

    def to_dict(self) -> dict[str, str]:
        return {"principal": self.principal, "fingerprint": self.fingerprint}


def sign(message: bytes, key_file: Path) -> str:
    """The armored SSH signature of `message` by the key in `key_file` (ssh-keygen asks for a passphrase or
    uses the agent, as it does for the approver every day)."""
    program = shutil.which("ssh-keygen")
    if program is None:
        raise UsageError(_("ssh-keygen is not installed: it signs approvals with your SSH key"),
                         hint=_("install OpenSSH (Debian: openssh-client; Windows: the OpenSSH client feature)"))
    if not key_file.exists():
        raise UsageError(_("--key {key_file}: no such key file").format(key_file=key_file))
    done = subprocess.run([program, "-Y", "sign", "-f", str(key_file), "-n", NAMESPACE], input=message,
                          capture_output=True, check=False)
    if done.returncode != 0 or b"BEGIN SSH SIGNATURE" not in done.stdout:
        reason = done.stderr.decode("utf-8", "replace").strip() or f"exit {done.returncode}"
        raise UsageError(_("ssh-keygen could not sign with {key_file}: {reason}").format(
            key_file=key_file, reason=reason))
    return done.stdout.decode("ascii")


def load_allowed_signers(path: Path) -> list[Signer]:
    """Parse an allowed_signers file; a line this check cannot honour is an error naming it (never ignored)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise UsageError(_("--allowed-signers {path}: {value}").format(
            path=path, value=error.strerror or error)) from None
    signers: list[Signer] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        where = Location(path, number)
        try:
            (entry,) = load_allowed_signers_file(io.StringIO(text))
            key = PublicKey.from_openssh_str(f"{entry.key_type} {entry.base64_key}")
        except (ValueError, NotImplementedError) as error:
            raise UsageError(_("not an allowed_signers line: {error}").format(error=error), where) from None
        signers.append(_signer(entry, key, where, number))
    if not signers:
        raise UsageError(_("--allowed-signers {path}: no signer in the file").format(path=path))
    return signers


def _signer(entry: AllowedSigner, key: PublicKey, where: Location, number: int) -> Signer:
    options = dict(entry.options or {})
    unsupported = sorted(set(options) - {"namespaces"})
    if unsupported:  # cert-authority, valid-before/after: not checked here, so refused rather than ignored
        raise UsageError(_("option {value} is not supported for plan approvals").format(
            value=', '.join(unsupported)), where)
    namespaces = tuple(options["namespaces"].split(",")) if "namespaces" in options else None
    return Signer(tuple(entry.principals.split(",")), key, namespaces, number)


def check(message: bytes, signatures: Sequence[str], signers: Sequence[Signer], minimum: int) -> list[Approver]:
    """The distinct approvers whose signatures of `message` are valid and allowed; StalePlanError (nothing is
    touched) when fewer than `minimum`. A signature by a key not in the file, for another namespace, or of
    other content counts for nothing and is named."""
    approvers: dict[str, Approver] = {}
    rejected: list[str] = []
    for number, armored in enumerate(signatures, start=1):
        try:
            key = sshsig.check_signature(message, armored, namespace=NAMESPACE)
        except (sshsig.InvalidSignature, ValueError, NotImplementedError) as error:
            rejected.append(_("signature {number}: not a valid signature of this plan ({error})").format(
                number=number, error=error))
            continue
        signer = next((s for s in signers if s.key == key and _allows(s)), None)
        if signer is None:
            rejected.append(_("signature {number}: key {value} is not an allowed signer").format(
                number=number, value=key.sha256_str()))
            continue
        approvers.setdefault(key.sha256_str(), Approver(signer.principals[0], key.sha256_str()))
    found = list(approvers.values())
    if len(found) < minimum:
        listed = "".join(f"\n  {line}" for line in rejected)
        raise StalePlanError(
            _("the plan has {count} valid approval(s) from allowed signers; {minimum} needed{listed}").format(
                count=len(found), minimum=minimum, listed=listed),
            hint=_("approvers sign with: remediate plan approve PLAN --key ~/.ssh/id_ed25519"),
        )
    return found


def _allows(signer: Signer) -> bool:
    return signer.namespaces is None or any(fnmatch.fnmatchcase(NAMESPACE, pattern) for pattern in signer.namespaces)
