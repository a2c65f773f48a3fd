"""An emulated Windows host: licensing state, its world (DNS, KMS hosts, online activation), and the commands
it
answers (CIM, slmgr.vbs, DNS and network cmdlets, event log, native tools), built from Microsoft's documented
behaviour as summarized in the activation reference."""

from remediate.sandbox.windows.host import WindowsHost
from remediate.sandbox.windows.state import HostState, KeyRecord, KmsHost, World

__all__ = ["HostState", "KeyRecord", "KmsHost", "WindowsHost", "World"]
