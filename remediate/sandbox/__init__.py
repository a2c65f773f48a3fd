"""Emulated Windows hosts on loopback that speak real WinRM (WS-Management with PSRP inside, and WinRS)."""
