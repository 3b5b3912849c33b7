import sys

from divergence.cli import main

sys.exit(main())
