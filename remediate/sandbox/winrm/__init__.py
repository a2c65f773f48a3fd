"""The sandbox's WinRM server: WS-Management over HTTP(S) with PSRP and WinRS inside, for unmodified pypsrp.

Layers: http (listener, connections, transport faults) -> auth (Basic, NTLM/Negotiate, message encryption) ->
wsman (envelopes, faults) -> host (shells, quota) -> psrp (runspace pools, pipelines) / winrs (cmd shells);
values converts CLIXML objects to and from the seam's plain values; tls makes the certificate authority.
"""
