import sys

from lbcore.cli import main

sys.exit(main())
