// This program's own version; a unit test keeps it equal to package.json's.
export const PROGRAM_VERSION = "0.1.0";
