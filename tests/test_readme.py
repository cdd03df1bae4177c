"""The README's commands and config work as written (the ones that run in seconds)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

from homodyne import layout
from homodyne.cli import main
from homodyne.config import load_config
from homodyne.data import simulate
from homodyne.problem import resolve_shards

README = (ROOT / "README.md").read_text()


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, re.S)


def test_first_screen_is_the_two_commands():
    first = README.split("\n## ", 1)[0]
    assert "make run" in first and "make test" in first
    assert first.index("make run") < first.index("**homodyne**")


def test_the_documented_config_keys_validate(tmp_path):
    path = tmp_path / "readme.yaml"
    path.write_text(next(b for b in _blocks("yaml") if "datasets:" in b))
    config = load_config(path)
    ds = config.datasets[0]
    assert ds.phi_ranges == ((-10.0, 10.0), (170.0, -170.0)) and ds.frames == (1, 500)
    assert ds.analysis.initial["D0"] == 2.0e4  # the per-dataset override wins
    assert ds.nlsq.strategy == "auto" and ds.cmc.shards_per_job == "auto"


def test_config_validate_and_run_as_the_readme_says(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    simulate("my_file.h5", mode="static", phi=[0.0, 90.0], n_frames=30, dt=0.1, q=0.0054,
             seed=2)
    commands = " ".join(_blocks("bash"))
    assert "homodyne config --mode laminar_flow --datasets my_file.h5 > my.yaml" in README
    assert main(["config", "--mode", "static", "--datasets", "my_file.h5"]) == 0
    text = capsys.readouterr().out.replace("CHANGE_ME", "0.1")  # the required dt
    config = yaml.safe_load(text)
    config["analysis"]["dt"] = 0.1
    (tmp_path / "my.yaml").write_text(yaml.safe_dump(config))
    assert main(["validate", "my.yaml"]) == 0
    assert "my_file" in capsys.readouterr().out
    assert "homodyne run my.yaml --method" in commands
    assert main(["run", "my.yaml", "--method", "nlsq", "--output", "out"]) == 0
    assert (tmp_path / "out/my_file/nlsq/nlsq_results.json").exists()
    assert "homodyne plot results/" in README
    assert main(["plot", "out"]) == 0
    assert (tmp_path / "out/my_file/plots/c2_overview.png").exists()


def test_the_python_example_runs_in_a_fresh_process(tmp_path):
    """The 'From Python' block, as written, in a new interpreter (no set-up but its own):
    it fits and evaluates the model in float64."""
    simulate(tmp_path / "my_file.h5", mode="static", params={"D0": 1e4, "alpha": -0.5},
             phi=[0.0, 90.0], n_frames=30, dt=0.1, q=0.0054, seed=3)
    block = next(b for b in _blocks("python") if "runtime.configure()" in b)
    assert block.index("runtime.configure()") < block.index("fit(")
    result = subprocess.run([sys.executable, "-c", block], capture_output=True, text=True,
                            cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "'D0':" in result.stdout
    assert "float64 (2, 29, 29)" in result.stdout  # t = 0 is dropped


def _developers() -> str:
    return README.split("\n## For developers\n", 1)[1].split("\n## ", 1)[0]


def test_every_module_has_its_line_in_the_developers_map():
    """The map names every module of the package once, and nothing that does not exist."""
    listed = re.findall(r"^(homodyne/\S+\.py)\s+\S", _developers(), re.M)
    on_disk = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "homodyne").rglob("*.py")
                     if p.name != "__init__.py")
    assert sorted(listed) == on_disk
    assert len(set(listed)) == len(listed)


def test_the_one_test_commands_name_real_tests():
    """Each pytest command of the developers' part collects tests (exit 0; a missing file or
    test id exits 4, nothing collected 5)."""
    lines = [line for block in _blocks("bash") for line in block.splitlines()
             if line.startswith(".venv/bin/python -m pytest")]
    assert len(lines) == 3
    for line in lines:
        args = shlex.split(line.split("pytest", 1)[1].split("#")[0])  # as a shell reads it
        done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", *args],
                              capture_output=True, text=True, cwd=ROOT, timeout=300)
        assert done.returncode == 0, (line, done.stdout[-2000:])


def test_the_results_tree_lists_every_result_file_of_a_dataset():
    """The tree under "A five-minute tour" names every file and folder the layout gives a
    dataset (``data/loaded.h5`` is temporary: deleted when the run no longer needs it)."""
    tree = README.split("```\nresults/demo/\n", 1)[1].split("```", 1)[0]
    out = layout.dataset("results", "demo")
    names = [name for name, value in vars(type(out)).items() if isinstance(value, property)]
    for name in names:
        path = Path(getattr(out, name)).relative_to("results/demo")
        if path == Path("data/loaded.h5"):
            continue
        assert (path.name in tree or path.stem in tree) and path.parts[0] in tree, path


def _report_parts() -> set[str]:
    """The subcategories of a dataset's section of the report, as the rules file them: those
    the rules name, and those of the figure table (common.smk's figure_subcategory)."""
    rules = "\n".join(p.read_text() for p in (ROOT / "workflow" / "rules").glob("*.smk"))
    parts = set(re.findall(r'category="\{ds\}",\s*subcategory="([^"]+)"', rules))
    assert "subcategory=figure_subcategory" in rules
    return parts | {figure.part for figure in layout.FIGURES.values()}


def test_the_readme_and_the_report_front_page_name_the_report_parts():
    """README "The report" and the report's front page (workflow/report/workflow.rst) list
    exactly the parts a dataset's section has, and say how many."""
    parts = _report_parts()
    assert parts == {"Tables", "NLSQ", "Bayesian (CMC)", "Model-free views"}
    count = {3: "three", 4: "four", 5: "five"}[len(parts)]
    section = README.split("\n## The report\n", 1)[1].split("\n## ", 1)[0]
    front = (ROOT / "workflow" / "report" / "workflow.rst").read_text()
    for text, bullet in ((section, "-"), (front, r"\*")):
        assert f"with {count} parts" in text
        listed = re.findall(rf"^{bullet} \*\*(.+?)\*\*", text, re.M)
        assert set(listed) == parts, listed


@pytest.mark.parametrize(("args", "expected"), [
    ([], "results/report.html"),
    (["--configfile", "config/config.yaml"], "results/report.html"),
    (["--configfile", "chx.yaml", "--cores", "2"], "results/report_chx.html"),
    (["-n", "--configfile=runs/yolk.yaml"], "results/report_yolk.html"),
    (["--configfiles", "a.yaml", "b.yml", "-R", "x.nc"], "results/report_a+b.html"),
    (["--configfile", "mine/config.yaml"], "results/report_config.html"),
])
def test_the_report_is_named_after_the_config(args, expected):
    """Another config's report never overwrites the demo's (results/report.html)."""
    assert layout.report("results", layout.config_files(args)) == expected


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_report_writes_the_report_of_another_config_beside_the_demos():
    """`make report SNAKEMAKE_ARGS="--configfile my.yaml"` as the README writes it (make -n:
    the commands are printed, not run)."""
    assert 'make report SNAKEMAKE_ARGS="--configfile my.yaml"' in README
    assert "results/report_my.html" in README

    def commands(*extra: str) -> str:
        done = subprocess.run(["make", "-n", "report", f"PY={sys.executable}", *extra],
                              capture_output=True, text=True, cwd=ROOT, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout.split("mkdir -p results", 1)[1]

    mine = commands("SNAKEMAKE_ARGS=--configfile my.yaml")
    assert "--report results/.report_my.tmp.html" in mine
    assert "mv -f results/.report_my.tmp.html results/report_my.html" in mine
    assert "mv -f results/.report.tmp.html results/report.html" in commands()


def test_the_demo_is_described_as_config_yaml_has_it():
    """README and benchmarks/README.md state the demo's NUTS settings and shard count as
    config/config.yaml and the demo data give them (a config change must update both)."""
    ds = load_config(ROOT / "config" / "config.yaml").datasets[0]
    rule = (ROOT / "workflow" / "rules" / "load.smk").read_text()
    angles = len(re.search(r"phi=\[([^\]]*)\]", rule).group(1).split(","))
    frames = int(re.search(r"n_frames=(\d+)", rule).group(1))
    fitted = frames - 1  # t = 0 is dropped
    points = angles * fitted * (fitted - 1) // 2
    shards = resolve_shards(ds.cmc, ds.analysis.mode, points, fitted // 2)
    nuts = f"{ds.cmc.chains} chains × ({ds.cmc.warmup} + {ds.cmc.samples})"
    tour = README.split("\n## A five-minute tour\n", 1)[1].split("It writes:", 1)[0]
    assert f"{angles} angles × {fitted} frames" in tour
    assert f"NUTS on {shards} shard{'s' * (shards > 1)}, {nuts}" in tour
    bench = (ROOT / "benchmarks" / "README.md").read_text()
    today = bench.split("**The demo today**", 1)[1].split("\n\n", 1)[0]
    assert (f"`config/config.yaml`: {ds.analysis.mode} {angles} × {frames}, {shards} "
            f"shard{'s' * (shards > 1)}, {nuts}") in today


def test_the_continuations_the_readme_counts_are_those_of_the_sampler():
    """'at most twice' is homodyne.cmc.sample.CONTINUATIONS, and the README no longer counts
    continuations on the real matrices (a degenerate fit's NUTS does not continue:
    tests/test_cmc_sampling.py; the README once said yolk had two, where one ran)."""
    from homodyne.cmc.sample import CONTINUATIONS

    assert CONTINUATIONS == 2
    assert "at most twice\nand only while R-hat falls or the ESS grows" in README
    assert "two\ncontinuations" not in README


def test_the_readme_and_outputs_name_the_verdict_table_as_the_layout_does():
    """Both say: one verdict table per run, named after its datasets (issue 21: a shared
    results/verdicts.html put yolk's verdict on the front page of the CHX report)."""
    outputs = (ROOT / "docs" / "outputs.md").read_text()
    assert f"\n{layout.verdicts_table('results', ['demo'])} " in README  # the tour's tree
    for text in (README, outputs):
        assert "results/verdicts_<datasets>.html" in text and "verdicts.html" not in text
        for sets in (["chx"], ["chx", "yolk"]):
            assert f"`{layout.verdicts_name(sets)}.html`" in text
    many = layout.verdicts_name(["a", *(f"b{k:03d}" for k in range(199))])
    assert re.fullmatch(r"verdicts_a\+199-more-[0-9a-f]{8}", many)
    assert "`verdicts_a+199-more-" in outputs
