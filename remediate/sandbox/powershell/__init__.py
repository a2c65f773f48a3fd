"""The sandbox's PowerShell interpreter: Windows PowerShell 5.1 as far as it is emulated, and no further.

Interpreter(commands, env).run(request) runs a PSRP pipeline request; run_script(text, parameters) is the
short form. Scripts are parsed with tree-sitter-powershell (once per distinct text) into a small syntax
tree; anything not emulated fails the pipeline with SandboxNotEmulated, naming the construct and its line.
The pipeline pypsrp's Client.execute_ps sends (Invoke-Expression -Command <text> | Out-String -Stream, as PSRP
commands) runs its text as a script under the same rules (interpreter.execute_ps_script)."""

from remediate.sandbox.powershell.interpreter import Interpreter

__all__ = ["Interpreter"]
