import sys

from loadtest.gate import main

sys.exit(main())
