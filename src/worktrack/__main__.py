from worktrack.cli import app

app(prog_name="worktrack")
