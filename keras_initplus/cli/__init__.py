"""The `keras-initplus` command line."""

import argparse
import sys

from keras_initplus import __version__
from keras_initplus.cli.demo import add_demo_arguments, run_demo


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="keras-initplus",
        description="Weight initialization and gradient health for Keras 3.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    _add_verbose(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="classic vanishing/saturation experiment and a deep-MLP "
        "training comparison",
        description=run_demo.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_demo_arguments(demo)
    _add_verbose(demo)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return run_demo(args, parser=demo)


def _add_verbose(parser):
    # Read from sys.argv before keras is imported (keras_initplus._startup);
    # declared here so that argparse accepts it and --help lists it.
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="show TensorFlow's start-up log lines",
    )


if __name__ == "__main__":
    sys.exit(main())
