"""The sandbox's WinRM server: WS-Management over HTTP(S) with PSRP and WinRS inside, for unmodified pypsrp.

Layers: acceptor (one thread accepting for every listener) -> http (listener, connections, transport faults,
the /wsman path, AllowUnencrypted) -> auth (Basic, NTLM/Negotiate, message encryption) -> wsman (envelopes,
faults) -> host (shells, quotas) -> psrp (runspace pools, pipelines) / winrs (cmd shells); values converts CLIXML
objects to and from the seam's plain values; tls makes the certificate authority.
"""
