import sys

from keras_initplus.cli import main

sys.exit(main())
