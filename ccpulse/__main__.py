import sys

from ccpulse.cli import main

sys.exit(main())
