"""The one exception type the command line prints as a message instead of a traceback.

Library modules (the daemon's set-up, the store, the report) raise subclasses of ``UserError`` with a
message that says what is wrong and what to do; ``sitless.cli`` prints it as one line and exits 2. So
library code never imports the CLI to raise its ``CommandError`` (which is itself a ``UserError``).
"""

from __future__ import annotations


class UserError(Exception):
    """A failure the user can fix, described in one line: printed without a traceback."""
