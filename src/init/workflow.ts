// The GitHub workflow `init` writes (.github/workflows/db.yml): on pull requests
// `check` and `dump --check` against a PostgreSQL service container; on version
// tags, `pack` brands the released pgship builds of every platform with the app's
// migrations and publishes them with SHA256SUMS and the branded install.sh.

export interface WorkflowInput {
  /** The pgship that runs in CI: its binary name, version and release repository. */
  tool: { binary: string; version: string; releaseRepository: string };
  /** The project file, the branded install.sh, relative to the repository root. */
  projectFile: string;
  installScript: string;
}

/** Every build install.sh knows (its "Builds:" list). */
export const PLATFORMS = ["linux-x64", "linux-x64-baseline", "linux-x64-musl", "linux-x64-musl-baseline", "linux-arm64", "linux-arm64-musl", "darwin-x64", "darwin-arm64"];

export function workflowYaml(w: WorkflowInput): string {
  const { binary, version, releaseRepository } = w.tool;
  const installUrl = `https://github.com/${releaseRepository}/releases/download/v${version}/install.sh`;
  return `name: db
# Written by '${binary} init'. The database of this app, shipped as one binary.
# Pull requests: '${binary} check' (every migration replays, every down undoes its up,
# the snapshot and model are current) and '${binary} dump --check' against PostgreSQL.
# Version tags (v1.2.0): '${binary} pack' appends this repository's migrations to the
# released ${binary} build of every platform, named and branded from ${w.projectFile};
# the builds, SHA256SUMS and ${w.installScript} become the tag's release, so
#   curl -fsSL https://github.com/<this repository>/releases/latest/download/install.sh | sh
# installs the app's own database manager.
#
# macOS: appending the migrations invalidates the code signature of the darwin builds.
# macOS on Apple silicon refuses to run an unsigned binary; users re-sign once with
#   codesign --force --sign - ~/.local/bin/<name>
# (or add a macos-latest job that runs that before publishing).
on:
  pull_request:
  push:
    tags: ["v*"]

permissions:
  contents: read

env:
  # The ${binary} release that checks and packs; pinned so a new release never changes a build.
  PGSHIP_VERSION: "${version}"
  PGSHIP_INSTALL_SH: ${installUrl}

jobs:
  check:
    if: github.event_name == 'pull_request'
    runs-on: ubuntu-24.04
    services:
      postgres:
        # Keep this major at most the runner's pg_dump (16 on ubuntu-24.04).
        image: postgres:16
        env:
          POSTGRES_PASSWORD: postgres
        ports: ["5432:5432"]
        options: >-
          --health-cmd pg_isready --health-interval 2s --health-timeout 5s --health-retries 30
    env:
      DATABASE_URL: postgres://postgres:postgres@localhost:5432/postgres
    steps:
      - uses: actions/checkout@v4
      - name: Install ${binary} and pg_dump
        run: |
          curl -fsSL "$PGSHIP_INSTALL_SH" | sh -s -- --version "$PGSHIP_VERSION" --dir "$RUNNER_TEMP/bin"
          echo "$RUNNER_TEMP/bin" >> "$GITHUB_PATH"
          command -v pg_dump >/dev/null || { sudo apt-get update -qq && sudo apt-get install -y -qq postgresql-client; }
      - name: Check the migrations
        run: ${binary} check --strict
      - name: The snapshot and model are what dump writes
        run: ${binary} dump --check

  release:
    if: startsWith(github.ref, 'refs/tags/v')
    runs-on: ubuntu-24.04
    permissions:
      contents: write
    steps:
      - uses: actions/checkout@v4
      - name: Read the project (${w.projectFile})
        run: |
          {
            echo "NAME=$(jq -r '.name' ${w.projectFile})"
            echo "DISPLAY=$(jq -r '.displayName // .name' ${w.projectFile})"
            echo "TRACKING=$(jq -r '.trackingSchema // (.name | gsub("[^a-z0-9_]"; "_"))' ${w.projectFile})"
            echo "MIGRATIONS=$(jq -r '.migrationsDir // "migrations"' ${w.projectFile})"
            echo "SCHEMA=$(jq -r '.schemaFile // ""' ${w.projectFile})"
          } >> "$GITHUB_ENV"
      - name: Download ${binary} for this runner and the ${binary} build of every platform
        run: |
          curl -fsSLo "$RUNNER_TEMP/install.sh" "$PGSHIP_INSTALL_SH"
          sh "$RUNNER_TEMP/install.sh" --version "$PGSHIP_VERSION" --dir "$RUNNER_TEMP/bin"
          echo "$RUNNER_TEMP/bin" >> "$GITHUB_PATH"
          # Each build is checked against the release's SHA256SUMS (builds for other
          # machines do not run here: install.sh warns and keeps them).
          for p in ${PLATFORMS.join(" ")}; do
            PGSHIP_PLATFORM=$p sh "$RUNNER_TEMP/install.sh" --version "$PGSHIP_VERSION" --dir "$RUNNER_TEMP/from/$p"
          done
      - name: Pack the migrations into every build
        run: |
          mkdir -p dist
          for p in ${PLATFORMS.join(" ")}; do
            ${binary} pack --from "$RUNNER_TEMP/from/$p/${binary}" --out "dist/$NAME-$p" \\
              --name "$NAME" --display-name "$DISPLAY" --tracking-schema "$TRACKING" \\
              --migrations-dir "$MIGRATIONS" \${SCHEMA:+--schema-file "$SCHEMA"}
          done
          "dist/$NAME-linux-x64-baseline" --version
      - name: Compress, add install.sh, write SHA256SUMS
        working-directory: dist
        run: |
          for f in "$NAME"-*; do gzip -9 -n -k -- "$f" && xz -6 -k -- "$f"; done
          cp "../${w.installScript}" install.sh
          sh -n install.sh
          sha256sum -- "$NAME"-* install.sh > SHA256SUMS
          cat SHA256SUMS
      - name: Smoke test install.sh against these files
        run: |
          python3 -m http.server 8765 --bind 127.0.0.1 --directory dist >/dev/null 2>&1 &
          server=$!
          trap 'kill "$server"' EXIT
          sleep 2
          PGSHIP_BASE_URL=http://127.0.0.1:8765 PGSHIP_PLATFORM=linux-x64-baseline sh dist/install.sh --dir "$RUNNER_TEMP/smoke"
          "$RUNNER_TEMP/smoke/$NAME" --version
      - name: Publish the release
        run: |
          case "$GITHUB_REF_NAME" in *-*) pre=--prerelease ;; *) pre=--latest ;; esac
          gh release create "$GITHUB_REF_NAME" --verify-tag --generate-notes $pre dist/*
        env:
          GH_TOKEN: \${{ github.token }}
          GH_REPO: \${{ github.repository }}
`;
}
