"""Every code block in the README and docs/ runs as written.

A page's Python blocks run in order in one fresh process, as a reader
would paste them one after another; bash blocks name commands that other
tests run.
"""

import glob
import os
import re
import shlex

import pytest

from tests.helpers import REPO, read_repo_file, run_fresh

BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
PAGES = ["README.md"] + sorted(
    os.path.relpath(p, REPO)
    for p in glob.glob(os.path.join(REPO, "docs", "*.md"))
)


def blocks(page, language):
    text = read_repo_file(page)
    return [code for lang, code in BLOCK.findall(text) if lang == language]


def test_pages_are_found():
    assert "docs/initializers.md" in PAGES and len(PAGES) >= 8
    assert set(SLOW_PAGES) <= set(PAGES)


def test_every_block_has_a_language():
    # Output is fenced as ```text; a bare fence would hide untested code.
    for page in PAGES:
        untagged = blocks(page, "")
        assert not untagged, (page, untagged[0][:200])


# Pages whose examples train deep or real models for a while; they run
# in .ci/run's slow pass, after the fast ones.
SLOW_PAGES = (
    "README.md",
    "docs/deep_networks.md",
    "docs/initialize_model.md",
    "docs/lsuv.md",
)


@pytest.mark.parametrize(
    "page",
    [
        pytest.param(p, marks=pytest.mark.slow) if p in SLOW_PAGES else p
        for p in PAGES
        if blocks(p, "python")
    ],
    ids=str,
)
def test_python_blocks_run(page, tmp_path):
    code = "\n".join(blocks(page, "python"))
    # Files a page writes (plots, saved models) land in a scratch folder.
    prelude = f"import os\nos.chdir({str(tmp_path)!r})\n"
    out = run_fresh(prelude + code, timeout=600)
    assert "Traceback" not in out


def _command_is_tested(line):
    words = shlex.split(line)
    if "pytest" in words or "keras-initplus" in line:
        # The set-up commands: .ci/run runs the second, and
        # test_setup_commands checks both.
        return "pip install" in line
    if words[0] == "python" and words[1].startswith(
        ("examples/", "benchmarks/")
    ):
        source = read_repo_file(words[1])
        flags = [w.split("=")[0] for w in words[2:] if w.startswith("--")]
        return all(f'"{flag}"' in source for flag in flags)
    return False


def test_bash_blocks_name_real_scripts_and_flags():
    for page in PAGES:
        for block in blocks(page, "bash"):
            for line in block.strip().splitlines():
                assert _command_is_tested(line), (page, line)
