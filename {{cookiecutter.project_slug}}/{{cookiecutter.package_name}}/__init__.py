"""{{ cookiecutter.project_name | replace('"', "'") | replace("\\", "/") }}: name the MNIST digit seen `delay` steps earlier."""
