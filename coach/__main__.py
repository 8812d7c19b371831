from coach.cli.app import app

app(prog_name="coach")
