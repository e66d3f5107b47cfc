"""The exit codes of every `hub` command, one table (docs/operations.md "Exit codes")."""

OK = 0  # everything ran and is healthy
FAILED = 1  # a source (or a reference file, a steward action) failed: its data was not (all) taken
CONFIG = 2  # the configuration or the command line is wrong: nothing ran
LOCKED = 3  # another run or steward action holds the warehouse
CHECKS_FAILED = 4  # everything ran, but a data check failed
WARNING = 5  # everything ran, but a source's health thresholds gave a warning (`health:` of a stream)
WAREHOUSE = 6  # the warehouse could not be reached or failed during the command: what was committed stands


def of_run(failed: bool, checks_failed: bool, warned: bool) -> int:
    """The most serious outcome wins: failed, then a failed check, then a warning."""
    return FAILED if failed else CHECKS_FAILED if checks_failed else WARNING if warned else OK
