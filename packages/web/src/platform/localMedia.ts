/** Camera and microphone at a size that suits calls of up to 9 (and 2-core test machines). */
export const VIDEO_CONSTRAINTS: MediaTrackConstraints = { width: { ideal: 320 }, height: { ideal: 240 }, frameRate: { ideal: 15 } };

export async function openLocalMedia(audioOnly: boolean): Promise<MediaStream> {
  if (!navigator.mediaDevices) throw new Error('camera access needs a secure context: open the app on http://localhost or over https');
  return navigator.mediaDevices.getUserMedia({ audio: true, video: audioOnly ? false : VIDEO_CONSTRAINTS });
}

export function stopStream(stream: MediaStream | null | undefined): void {
  for (const track of stream?.getTracks() ?? []) track.stop();
}
