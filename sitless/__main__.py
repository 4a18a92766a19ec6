import sys

from sitless.cli import main

sys.exit(main())
