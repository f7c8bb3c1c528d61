// The input table's rows for the build cache that travels between runners: cache-from and
// cache-to, in buildx's syntax.
import { parseCacheList } from "../../cache.js";
import { BUILD, list } from "../row.js";

export const CACHE_INPUTS = {
  cacheFrom: list({
    action: "cache-from",
    cli: {
      flag: "cache-from",
      value: "SPEC",
      commands: BUILD,
      section: "build",
      help: [
        "import build cache: REF (a registry cache), type=registry,ref=REF,",
        "type=local,src=DIR, type=gha[,scope=S], type=s3,... or",
        "type=azblob,...",
      ],
    },
    parse: (items, context) => parseCacheList(items, "import", context),
  }),
  cacheTo: list({
    action: "cache-to",
    cli: {
      flag: "cache-to",
      value: "SPEC",
      commands: BUILD,
      section: "build",
      help: [
        "export build cache: type=registry,ref=REF[,mode=max], type=inline,",
        "type=local,dest=DIR, type=gha, type=s3 or type=azblob;",
        "ignore-error=true makes a failed export a warning",
      ],
    },
    parse: (items, context) => parseCacheList(items, "export", context),
  }),
};
