"""What a run tells and sends: markdown, HTML, JSON, JUnit, diffs, bundles, exports, GitHub."""
