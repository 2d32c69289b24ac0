"""Where a workflow step writes: the rule's log file, and how many threads it may use."""

import logging
import sys


def log_to_file(path, threads=None):
    """Send stderr and the package's log lines to the rule's log file."""
    sys.stderr = open(path, "w", buffering=1)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if threads:
        import torch  # only the steps that compute need it

        torch.set_num_threads(threads)
