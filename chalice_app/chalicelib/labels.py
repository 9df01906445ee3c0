"""Label names shared by training, export and serving (the runtime owns shared formats)."""

LABELS: tuple[str, str] = ("unacceptable", "acceptable")
"""Index i is the name of class i: CoLA's 0 = unacceptable, 1 = acceptable."""

ID2LABEL: dict[int, str] = dict(enumerate(LABELS))
LABEL2ID: dict[str, int] = {name: i for i, name in ID2LABEL.items()}
