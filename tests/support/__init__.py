"""What the tests share: throwaway databases (database), the CLI runner (cli), the engine's
test settings and rows (engine), a fake platform (fakes, fake_run) and the platforms' mocked
HTTP answers (platform_fakes). Fixtures stay in tests/conftest.py."""
