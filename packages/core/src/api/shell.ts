/** The shell genrule commands run in, with Bazel's genrule-setup strictness. */
export const GENRULE_SHELL = "/bin/bash";
export const GENRULE_SHELL_SETUP = "set -e -o pipefail\n";
