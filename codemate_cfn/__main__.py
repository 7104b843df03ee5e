"""Entry point for `python -m codemate_cfn`."""

import sys

from codemate_cfn.cli import main

sys.exit(main())
