"""Key channels: the words the ledger stores, and the ones operators and portals write for them."""

from __future__ import annotations

from remediate.errors import UsageError
from remediate.i18n import N_, _

MAK = "MAK"
CSVLK = "CSVLK"  # a KMS host key
RETAIL = "RETAIL"
OEM = "OEM"
GVLK = "GVLK"  # a KMS client setup key
CHANNELS = (MAK, CSVLK, RETAIL, OEM, GVLK)

NAMES = {  # channel -> its name (a gettext message)
    MAK: "MAK", CSVLK: N_("KMS host (CSVLK)"), RETAIL: N_("retail"), OEM: "OEM", GVLK: N_("GVLK (KMS client)"),
}

_ALIASES = {
    "mak": MAK, "volume:mak": MAK, "multiple activation key": MAK, "mak key": MAK,
    "csvlk": CSVLK, "kms": CSVLK, "kms-host": CSVLK, "kms host": CSVLK, "kms_host": CSVLK, "kms key": CSVLK,
    "kms host key": CSVLK, "volume:csvlk": CSVLK,
    "retail": RETAIL,
    "oem": OEM, "oem:dm": OEM, "oem:slp": OEM, "oem:coa": OEM, "oem:nonslp": OEM,
    "gvlk": GVLK, "volume:gvlk": GVLK, "kms client": GVLK, "kms-client": GVLK, "kms client setup key": GVLK,
}

# What --channel accepts on the command line (the aliases above are for CSV files).
CHOICES = ("mak", "kms-host", "csvlk", "retail", "oem", "gvlk")


def parse_channel(text: str) -> str:
    channel = _ALIASES.get(" ".join(text.strip().lower().split()))
    if channel is None:
        raise UsageError(_("unknown key channel {text!r}: expected one of MAK, KMS host (CSVLK), retail, OEM, "
                           "GVLK").format(text=text))
    return channel
