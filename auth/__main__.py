import sys

from auth.cli import main

sys.exit(main())
