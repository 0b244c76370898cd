"""`lexdense explain`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from lexdense.cli._common import _guard, _read_corpus, _read_keywords, app
from lexdense.cli.options import ModelOption, TextFieldOption
from lexdense.errors import InputError
from lexdense.model import DEFAULT_MODEL


@app.command()
@_guard
def explain(
    text: Optional[str] = typer.Argument(None, help="Text to explain"),
    vs: Optional[str] = typer.Option(None, "--vs", help="Second text: explain why the two are similar"),
    concepts: Optional[Path] = typer.Option(None, help="Concept bank: .txt (one a line) or .json label -> [keywords]"),
    probe_file: Optional[Path] = typer.Option(None, "--probe", help="Labelled corpus: dimensions each label needs"),
    label_field: str = typer.Option("label", help="With --probe: the label field"),
    text_field: TextFieldOption = "text",
    top: int = typer.Option(10, help="Concepts / words to show"),
    alpha: float = typer.Option(3e-4, help="Sparsity of the concept code (larger = fewer concepts)"),
    model: ModelOption = DEFAULT_MODEL,
    json_out: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """Explain an embedding by concepts, two texts' similarity by shared words, or probe labels."""
    import json

    from rich.markup import escape
    from rich.table import Table

    from lexdense.explain import Explainer, probe
    from lexdense.model import LexDense

    embedder = LexDense.load(model)
    console = Console()
    if probe_file is not None:
        texts, meta = _read_corpus(probe_file, text_field)
        if label_field not in meta.column_names:
            raise InputError(f"{probe_file}: no field '{label_field}'; use --label-field")
        result = probe(embedder.encode(texts), meta.column(label_field).to_pylist())
        if json_out:
            print(json.dumps(result))
            return
        ks = sorted({k for c in result["concepts"].values() for k in c["accuracy_by_dims"]})
        table = Table(title="balanced accuracy of a probe on the top-k dimensions (Fisher score)")
        table.add_column("label")
        for k in ks:
            table.add_column(f"k={k}", justify="right")
        table.add_column("k for 95%", justify="right")
        for name, entry in result["concepts"].items():
            table.add_row(escape(name), *[f"{entry['accuracy_by_dims'][k]:.2f}" for k in ks],
                          str(entry["dims_for_95pct"]))
        console.print(table)
        return
    if text is None:
        raise InputError("give a text to explain (or --probe FILE)")
    bank = None
    if concepts is not None:
        if concepts.suffix == ".json":
            bank = _read_keywords(concepts, None)
        else:
            bank = [line.strip() for line in concepts.read_text(encoding="utf-8", errors="replace").splitlines()
                    if line.strip()]
    explainer = Explainer(model=embedder, concepts=bank, alpha=alpha)
    if vs is not None:
        result = explainer.compare(text, vs, top=top)
        if json_out:
            print(json.dumps(result))
            return
        console.print(f"cosine {result['cosine']:.3f}")
        table = Table(title="shared words: cosine drop when removed from both texts (exact)")
        table.add_column("word")
        table.add_column("cosine drop", justify="right")
        for entry in result["shared_words"]:
            table.add_row(escape(entry["word"]), f"{entry['cosine_drop']:+.3f}")
        console.print(table)
        console.print("shared concepts: " + escape(", ".join(c["concept"] for c in result["shared_concepts"]) or "-"))
        return
    result = explainer.explain(text, top=top)
    if json_out:
        print(json.dumps(result))
        return
    table = Table(title=f"concepts reconstructing the vector: fidelity {result['fidelity']:.2f} "
                        f"with {result['n_concepts']} concepts")
    table.add_column("concept")
    table.add_column("weight", justify="right")
    for entry in result["concepts"]:
        table.add_row(escape(entry["concept"]), f"{entry['weight']:.3f}")
    console.print(table)
