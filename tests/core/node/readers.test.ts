import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  readCaptions,
  readCaptionsCsv,
  readCaptionsJsonl,
  readCocoCaptions,
} from '../../../packages/train/src/data/readers';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmzoo-readers-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

describe('CSV captions', () => {
  it('parse quoted fields, resolve relative paths against the file folder and keep absolute ones', () => {
    const file = write(
      'good.csv',
      'image,caption\nimg/1.png,"a red dress, long"\n\n/abs/2.png,"two\nlines"\nimg/1.png, a second caption \n',
    );
    expect(readCaptionsCsv(file)).toEqual([
      { imagePath: path.join(dir, 'img/1.png'), caption: 'a red dress, long', imageId: 'img/1.png' },
      { imagePath: '/abs/2.png', caption: 'two\nlines', imageId: '/abs/2.png' },
      { imagePath: path.join(dir, 'img/1.png'), caption: 'a second caption', imageId: 'img/1.png' },
    ]);
  });

  it('use an image_id column, other column names and an image root', () => {
    const file = write('ids.csv', 'caption,image_id,path\na bag,17,b.png\n');
    expect(readCaptionsCsv(file, { imageKey: 'path', imageRoot: '/images' })).toEqual([
      { imagePath: '/images/b.png', caption: 'a bag', imageId: '17' },
    ]);
  });

  it('report a bad row with file:line', () => {
    const file = write('short-row.csv', 'image,caption\na.png,ok\n\nb.png\nc.png,fine\n');
    expect(() => readCaptionsCsv(file)).toThrow(`${file}:4: expected 2 columns, found 1`);
    const extra = write('long-row.csv', 'image,caption\na.png,ok,extra\n');
    expect(() => readCaptionsCsv(extra)).toThrow(`${extra}:2: expected 2 columns, found 3`);
    const empty = write('empty-caption.csv', 'image,caption\na.png,ok\nb.png,  \n');
    expect(() => readCaptionsCsv(empty)).toThrow(`${empty}:3: empty caption`);
  });

  it('report a missing column, malformed CSV and a missing file', () => {
    const file = write('no-caption.csv', 'image,text\na.png,hi\n');
    expect(() => readCaptionsCsv(file)).toThrow(`${file}:1: missing column "caption" (header: image, text)`);
    const quote = write('quote.csv', 'image,caption\na.png,x"y\n');
    expect(() => readCaptionsCsv(quote)).toThrow(new RegExp(`^${quote}:2: Invalid Opening Quote`));
    const missing = path.join(dir, 'missing.csv');
    expect(() => readCaptionsCsv(missing)).toThrow(`${missing}: file not found`);
  });
});

describe('JSONL captions', () => {
  it('parse one object per line', () => {
    const file = write('good.jsonl', '{"image": "a.png", "caption": "a coat"}\n\n{"image": "b.png", "caption": "a bag", "image_id": 4}\n');
    expect(readCaptionsJsonl(file)).toEqual([
      { imagePath: path.join(dir, 'a.png'), caption: 'a coat', imageId: 'a.png' },
      { imagePath: path.join(dir, 'b.png'), caption: 'a bag', imageId: '4' },
    ]);
  });

  it('report a malformed line or a missing key with file:line', () => {
    const bad = write('bad.jsonl', '{"image": "a.png", "caption": "ok"}\n{"image": "b.png", "caption": }\n');
    expect(() => readCaptionsJsonl(bad)).toThrow(new RegExp(`^${bad}:2: invalid JSON: `));
    const key = write('key.jsonl', '{"image": "a.png", "caption": "ok"}\n\n{"image": "b.png", "text": "x"}\n');
    expect(() => readCaptionsJsonl(key)).toThrow(`${key}:3: expected an object with string "image" and "caption"`);
    const array = write('array.jsonl', '["a.png", "x"]\n');
    expect(() => readCaptionsJsonl(array)).toThrow(`${array}:1: expected an object with string "image" and "caption"`);
  });
});

describe('COCO caption JSON', () => {
  const coco = {
    info: { description: 'tiny' },
    images: [
      { id: 1, file_name: '000001.jpg', height: 10, width: 10 },
      { id: 2, file_name: '000002.jpg' },
    ],
    annotations: [
      { id: 10, image_id: 2, caption: 'A dog. ' },
      { id: 11, image_id: 1, caption: 'A cat.' },
      { id: 12, image_id: 2, caption: 'Another dog.' },
    ],
  };

  it('gives one record per annotation with the image file name', () => {
    const file = write('captions.json', JSON.stringify(coco, null, 2));
    expect(readCocoCaptions(file, { imageRoot: '/coco/train2017' })).toEqual([
      { imagePath: '/coco/train2017/000002.jpg', caption: 'A dog.', imageId: '2' },
      { imagePath: '/coco/train2017/000001.jpg', caption: 'A cat.', imageId: '1' },
      { imagePath: '/coco/train2017/000002.jpg', caption: 'Another dog.', imageId: '2' },
    ]);
    expect(readCaptions(file)[1].imagePath).toBe(path.join(dir, '000001.jpg'));
  });

  it('reports malformed JSON with file:line and structural problems with the JSON path', () => {
    const syntax = write('syntax.json', '{\n  "images": [],\n  "annotations": [\n    {"image_id": 1,}\n  ]\n}\n');
    expect(() => readCocoCaptions(syntax)).toThrow(new RegExp(`^${syntax}:4: invalid JSON: `));
    const unknown = write('unknown.json', JSON.stringify({ ...coco, annotations: [{ image_id: 3, caption: 'x' }] }));
    expect(() => readCocoCaptions(unknown)).toThrow(`${unknown}: annotations[0]: image_id 3 not in images`);
    const noCaption = write('nocap.json', JSON.stringify({ ...coco, annotations: [coco.annotations[0], { image_id: 1 }] }));
    expect(() => readCocoCaptions(noCaption)).toThrow(
      `${noCaption}: annotations[1]: expected {image_id: number|string, caption: string}`,
    );
    const shape = write('shape.json', '[]');
    expect(() => readCocoCaptions(shape)).toThrow(`${shape}: expected an object with "images" and "annotations" arrays`);
  });
});

describe('readCaptions', () => {
  it('chooses the reader by extension', () => {
    const jsonl = write('pick.jsonl', '{"image": "a.png", "caption": "x"}\n');
    expect(readCaptions(jsonl)).toHaveLength(1);
    const other = write('captions.txt', 'a.png x');
    expect(() => readCaptions(other)).toThrow(`${other}: unknown caption file type, expected .csv, .json or .jsonl`);
  });
});
