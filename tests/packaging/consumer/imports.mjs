/**
 * An ES-module consumer of the installed tarballs (tests/packaging/npm-pack.test.ts): named imports of the
 * CommonJS build, the package entries and the `@mmzoo/core/io` subpath. Prints one JSON line.
 */
import { tf } from '@mmzoo/core';
import { parseSafetensors } from '@mmzoo/core/io';
import { clipSpec, buildClip } from '@mmzoo/clip';

console.log(JSON.stringify({ spec: clipSpec.name, tensor: typeof tf.tensor, parseSafetensors: typeof parseSafetensors, buildClip: typeof buildClip }));
