import { describe, expect, it } from 'vitest';
import { solidPng } from '../testing/faceClip.js';
import { parseBusMessage, parseFaces } from './busMessage.js';
import { filterPipeline } from './filterPipeline.js';
import { splitCommand } from './GStreamerFilter.js';
import { placeImage } from './ImageOverlayFilter.js';
import { parseInspect } from './gstInspect.js';
import { sniffImage } from './overlayImage.js';

describe('filter helpers', () => {
  it('parseBusMessage reads a zbar message, unescaping quoted strings and octal UTF-8 bytes', () => {
    const line =
      'Got message #60 from element "zbar0" (element): barcode, timestamp=(guint64)1000000000, type=(string)QR-Code, symbol=(string)"https://x.example/a\\?b\\=1\\,\\ \\303\\274", quality=(int)1;';
    const m = parseBusMessage(line)!;
    expect(m.element).toBe('zbar0');
    expect(m.name).toBe('barcode');
    expect(m.fields.get('timestamp')).toBe('1000000000');
    expect(m.fields.get('type')).toBe('QR-Code');
    expect(m.fields.get('symbol')).toBe('https://x.example/a?b=1, ü');
    expect(parseBusMessage('Got message #26 from element "fakesink0" (state-changed): GstMessageStateChanged')).toBeUndefined();
  });

  it('parseFaces reads the faces of a facedetect message', () => {
    const line =
      'Got message #78 from element "facedetect0" (element): facedetect, timestamp=(guint64)0, faces=(structure){ "face\\,\\ x\\=\\(uint\\)108\\,\\ y\\=\\(uint\\)23\\,\\ width\\=\\(uint\\)59\\,\\ height\\=\\(uint\\)59\\;", "face\\,\\ x\\=\\(uint\\)1\\,\\ y\\=\\(uint\\)2\\,\\ width\\=\\(uint\\)3\\,\\ height\\=\\(uint\\)4\\;" };';
    const m = parseBusMessage(line)!;
    expect(parseFaces(m.fields.get('faces')!)).toEqual([
      { x: 108, y: 23, width: 59, height: 59 },
      { x: 1, y: 2, width: 3, height: 4 },
    ]);
  });

  it('splitCommand splits a gst-launch fragment as a shell would, quotes grouping', () => {
    expect(splitCommand('textoverlay text="Hello world"  font-desc=\'Sans 12\'')).toEqual(['textoverlay', 'text=Hello world', 'font-desc=Sans 12']);
    expect(splitCommand('  ')).toEqual([]);
    expect(() => splitCommand('textoverlay text="open')).toThrow(/unterminated quote/);
  });

  it('placeImage places a picture in fractions of the frame, fitted and centred when asked', () => {
    const frame = { width: 320, height: 240 };
    const box = { offsetXPercent: 0.5, offsetYPercent: 0.25, widthPercent: 0.25, heightPercent: 0.25 };
    expect(placeImage({ width: 100, height: 50 }, { ...box, keepAspectRatio: false, center: false }, frame)).toEqual({ x: 160, y: 60, width: 80, height: 60 });
    expect(placeImage({ width: 100, height: 50 }, { ...box, keepAspectRatio: true, center: false }, frame)).toEqual({ x: 160, y: 60, width: 80, height: 40 });
    expect(placeImage({ width: 100, height: 50 }, { ...box, keepAspectRatio: true, center: true }, frame)).toEqual({ x: 160, y: 70, width: 80, height: 40 });
  });

  it('sniffImage tells PNG and JPEG pictures and their size', () => {
    expect(sniffImage(solidPng(7, 5, [1, 2, 3, 255]))).toMatchObject({ mimeType: 'image/png', width: 7, height: 5 });
    const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 0x00, 0x00, 0xff, 0xc0, 0x00, 0x11, 0x08, 0x00, 0x30, 0x00, 0x40, 0x03, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(sniffImage(jpeg)).toMatchObject({ mimeType: 'image/jpeg', width: 64, height: 48 });
    expect(sniffImage(Buffer.from('<html>not a picture</html>'))).toBeUndefined();
  });

  it('parseInspect reads pad template media types and property names of gst-inspect-1.0 output', () => {
    const text = [
      'Pad Templates:',
      "  SINK template: 'sink'",
      '    Availability: Always',
      '    Capabilities:',
      '      audio/x-raw',
      '                 format: { (string)F32LE }',
      '  ',
      "  SRC template: 'src'",
      '    Capabilities:',
      '      ANY',
      '',
      'Element Properties:',
      '',
      '  mute                : mute channel',
      '                        flags: readable, writable',
      '  volume              : volume factor',
    ].join('\n');
    const info = parseInspect('volume', text);
    expect(info.sinkCaps).toEqual(['audio/x-raw']);
    expect(info.srcCaps).toEqual(['ANY']);
    expect([...info.properties]).toEqual(['mute', 'volume']);
  });

  it('filterPipeline decodes, runs the stage and encodes again, with an RTCP input for keyframe requests on video', () => {
    const args = filterPipeline({ input: 'VP8', output: 'H264', stage: ['videoflip', 'video-direction=4'], inputPort: 1000, outputPort: 2000, rtcpPort: 1001, ssrc: 42 });
    const text = args.join(' ');
    expect(text).toContain('port=1000 caps=application/x-rtp,media=video,clock-rate=90000,encoding-name=VP8,payload=96');
    expect(text).toMatch(/vp8dec ! videoconvert ! queue .*leaky=downstream ! videoflip video-direction=4 ! videoconvert .* openh264enc .* rtph264pay pt=102 ssrc=42/);
    expect(text).toContain('udpsrc address=127.0.0.1 port=1001 caps=application/x-rtcp ! rtpbin.recv_rtcp_sink_0');
    expect(() => filterPipeline({ input: 'OPUS', output: 'VP8', stage: [], inputPort: 1, outputPort: 2, rtcpPort: 3, ssrc: 1 })).toThrow();
  });
});
