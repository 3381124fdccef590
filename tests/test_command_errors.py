from proglearn_supcon.runs.errors import command_error


def test_command_error_prints_one_line_and_returns_the_status(capsys):
    assert command_error("run", "bad\nthing:  here") == 2
    assert capsys.readouterr().err == "proglearn-supcon run: error: bad thing: here\n"
    assert command_error("summary", ValueError("no runs"), status=1) == 1
    assert capsys.readouterr().err == "proglearn-supcon summary: error: no runs\n"
