"""The run's screen: one line per stage start and end, progress lines, everything else in the log."""

import logging
import os
import sys

from absl import logging as absl_logging

from pipeline.console import quiet_run


def test_the_terminal_shows_stages_and_progress_and_the_log_keeps_everything(tmp_path, capfd):
    with quiet_run(str(tmp_path), verbose=False) as terminal:
        absl_logging.info("Component DatasetGen is running.")
        print("a page of job output")
        os.write(2, b"C++ noise on stderr\n")
        logging.getLogger("beam_jobs.build_dataset").warning("type hint conversion ...")
        logging.getLogger("pqrnn.train").info("epoch 1/2: validation exact match 0.5", extra={"progress": True})
        absl_logging.set_verbosity(absl_logging.WARNING)  # as happens inside TFX's Transform
        absl_logging.info("Component DatasetGen is finished.")
        absl_logging.info("Component Trainer is running.")
        absl_logging.info("A cached execution 7 is used.")
        absl_logging.info("Component Trainer is finished.")
        terminal.write("the summary\n")
    shown = capfd.readouterr().out.splitlines()
    assert shown[0].startswith("full log: ") and len(shown) == 7, shown
    assert shown[1] == "▶ DatasetGen" and shown[2] == "    epoch 1/2: validation exact match 0.5"
    assert shown[3].startswith("✔ DatasetGen") and " done " in shown[3]
    assert shown[5].startswith("✔ Trainer") and " cached " in shown[5]
    assert shown[6] == "the summary"
    [log] = os.listdir(tmp_path / "logs")
    text = (tmp_path / "logs" / log).read_text()
    for line in ("a page of job output", "C++ noise on stderr", "type hint conversion", "Trainer is finished."):
        assert line in text
    stdout = sys.stdout
    print("after")  # the terminal is restored
    assert capfd.readouterr().out == "after\n" and sys.stdout is stdout
