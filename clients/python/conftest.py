# The package's own tests: load the plugin from this checkout (an installed
# copy registers under the same name, so it is not loaded twice) and pytester
# for the tests that run an inner pytest session.
pytest_plugins = ["pytester", "numora_fake.plugin"]
