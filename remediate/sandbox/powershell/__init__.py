"""The sandbox's PowerShell interpreter: the template dialect (templates/README.md), nothing more.

Interpreter(commands, env).run(request) runs a PSRP pipeline request; run_script(text, parameters) is the
short form. Scripts are parsed with tree-sitter-powershell (once per distinct text) into a small syntax
tree; anything outside the dialect fails the pipeline with an error naming the construct and its line.
The pipeline pypsrp's Client.execute_ps sends (Invoke-Expression -Command <text> | Out-String -Stream, as PSRP
commands) runs its text as a script under the same rules (interpreter.execute_ps_script)."""

from remediate.sandbox.powershell.interpreter import Interpreter

__all__ = ["Interpreter"]
