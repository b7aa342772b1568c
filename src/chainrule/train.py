"""Training loop and the ``train`` CLI (placeholder until the Python-layer work lands)."""


def add_cli_arguments(parser) -> None:
    pass


def cli_main(args) -> int:
    raise SystemExit("python -m chainrule train: not implemented yet")
