"""Phone activation in the sandbox: the installation ID a licence shows, the confirmation ID the sandbox's
activation centre gives for it, and what DepositOfflineConfirmationId makes of a confirmation ID.

Microsoft's algorithm behind confirmation IDs is not public. The sandbox has a rule of its own, published here so
that a test, a demo or a person playing the activation centre can work out the confirmation ID an isolated sandbox
host needs. It holds in the sandbox only; no real Windows accepts these confirmation IDs.

The rule (`confirmation_id`):

1. Take the installation ID's 63 digits (hyphens and spaces dropped).
2. Compute SHA-256 of the ASCII text ``remediate-sandbox-cid:`` followed by those digits, and read the digest as
   a big-endian number. That number modulo 10**40, written with 40 digits (leading zeros kept), is cut into eight
   blocks of five digits.
3. Each block gets a sixth digit, its check digit: the sum of its five digits, each multiplied by its position
   (1 to 5), modulo 7.

The confirmation ID is the eight blocks of six digits, 48 digits in all, written with hyphens between the blocks
as the activation centre reads them out. For the installation ID of 63 zeros it is
``470526-219703-326364-515794-629242-385784-119010-896323``.

A deposit (`check_deposit`, what slmgr /atp and DepositOfflineConfirmationId do) answers with the codes of the SDK's
slerror.h (activation reference §0 SLERR-H; the Deposit functions' documented returns, learn.microsoft.com/windows/
win32/api/slpublic/nf-slpublic-sldepositofflineconfirmationidex):

- 0xC004F02C SL_E_CIDIID_INVALID_DATA: not 48 digits ("Invalid data typed during phone activation", ref §1a).
- 0xC004F04D SL_E_CIDIID_INVALID_CHECK_DIGITS: a block's check digit is wrong, or the installation ID given is not
  the licence's own ("the Installation ID (IID) or the Confirmation ID (CID) is invalid").
- 0xC004F031 SL_E_CIDIID_MISMATCHED: a well-formed confirmation ID of another installation ID ("the IID and the
  CID do not match").
"""

from __future__ import annotations

import functools
import hashlib

CID_BLOCKS = 8
CID_BLOCK_DIGITS = 5  # and a check digit
IID_DIGITS = 63  # [obs: "Installation ID: 5087605834…" in slmgr /dlv, alygcode/windows10esu#3]
_SALT = "remediate-sandbox-cid:"

E_CIDIID_INVALID_DATA = 0xC004F02C
E_CIDIID_MISMATCHED = 0xC004F031
E_CIDIID_INVALID_CHECK_DIGITS = 0xC004F04D


@functools.lru_cache(maxsize=4096)
def derived_digits(seed: str, count: int) -> str:
    """`count` decimal digits derived from `seed` (stable: one seed always gives the same digits; kept, since
    every CIM read asks)."""
    digest = hashlib.sha256(seed.encode()).hexdigest()
    return "".join(str(int(c, 16) % 10) for c in (digest * 4)[:count])


def installation_id(computer_name: str, key: str | None) -> str:
    """SoftwareLicensingProduct.OfflineInstallationId of the licence in use: 63 digits, [inf] derived from the
    computer and its key, so installing another key changes it, as it does in Windows."""
    return derived_digits(f"iid:{computer_name}:{key or ''}", IID_DIGITS)


def digits_of(text: str) -> str:
    """An installation or confirmation ID without the hyphens and spaces it is written with."""
    return text.replace("-", "").replace(" ", "").strip()


def check_digit(block: str) -> int:
    """Rule step 3: the sum of the block's digits, each times its position (1 to 5), modulo 7."""
    return sum(int(digit) * position for position, digit in enumerate(block, 1)) % 7


def confirmation_id(installation_id: str) -> str:
    """The confirmation ID the sandbox's activation centre gives for `installation_id` (the rule above)."""
    digest = hashlib.sha256((_SALT + digits_of(installation_id)).encode("ascii")).digest()
    payload = f"{int.from_bytes(digest, 'big') % 10 ** (CID_BLOCKS * CID_BLOCK_DIGITS):040d}"
    blocks = [payload[i:i + CID_BLOCK_DIGITS] for i in range(0, len(payload), CID_BLOCK_DIGITS)]
    return "-".join(f"{block}{check_digit(block)}" for block in blocks)


def check_deposit(given_installation_id: str, licence_installation_id: str, given_confirmation_id: str) -> int:
    """What DepositOfflineConfirmationId answers: 0 when the confirmation ID activates this licence, else the
    HRESULT of the refusal (see the module's list)."""
    cid = digits_of(given_confirmation_id)
    size = CID_BLOCKS * (CID_BLOCK_DIGITS + 1)
    if len(cid) != size or not (cid.isascii() and cid.isdigit()):
        return E_CIDIID_INVALID_DATA
    if digits_of(given_installation_id) != licence_installation_id:
        return E_CIDIID_INVALID_CHECK_DIGITS
    blocks = [cid[i:i + CID_BLOCK_DIGITS + 1] for i in range(0, size, CID_BLOCK_DIGITS + 1)]
    if any(check_digit(block[:-1]) != int(block[-1]) for block in blocks):
        return E_CIDIID_INVALID_CHECK_DIGITS
    if cid != digits_of(confirmation_id(licence_installation_id)):
        return E_CIDIID_MISMATCHED
    return 0
