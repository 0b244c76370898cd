"""The options many commands share, declared once: one name, one short flag, one meaning."""

from __future__ import annotations

from typing import Annotated

import typer

ModelOption = Annotated[str, typer.Option("--model", "-m", help="Model name or directory")]
TextFieldOption = Annotated[str, typer.Option("--text-field", help="Field holding the text (.jsonl, .csv, .tsv, "
                                                                   ".parquet)")]
CORPUS_HELP = ("Corpus: .txt (one document a line), .jsonl, .csv, .tsv, .parquet, or a folder or quoted glob "
               "pattern of documents (one a file, id = its path)")
