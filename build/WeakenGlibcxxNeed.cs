using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

/// <summary>
/// Sets VER_FLG_WEAK on one version-need entry (e.g. GLIBCXX_3.4.32) of an ELF64 shared library, so the
/// dynamic loader accepts an older libstdc++ that lacks that version. Applied only when no libstdc++ on
/// the machine defines the version.
/// </summary>
public class WeakenGlibcxxNeed : Task
{
    [Required] public ITaskItem[] Libraries { get; set; } = Array.Empty<ITaskItem>();
    [Required] public string Version { get; set; } = "";

    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlgWeak = 0x2;

    public override bool Execute()
    {
        if (MachineHasVersion())
            return true;
        foreach (var item in Libraries)
        {
            var path = item.ItemSpec;
            try
            {
                var result = Weaken(path);
                if (result == "patched")
                    Log.LogMessage(MessageImportance.High,
                        $"glibcxx-fix: this machine's libstdc++ lacks {Version}; marked that need weak in {path}");
            }
            catch (Exception e)
            {
                Log.LogWarning($"glibcxx-fix: could not patch {path}: {e.Message}");
            }
        }
        return true;
    }

    private bool MachineHasVersion()
    {
        string[] candidates =
        {
            "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib/aarch64-linux-gnu/libstdc++.so.6",
            "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6",
        };
        var needle = Encoding.ASCII.GetBytes(Version + "\0");
        foreach (var c in candidates)
        {
            if (!File.Exists(c))
                continue;
            var bytes = File.ReadAllBytes(c);
            if (IndexOf(bytes, needle) >= 0)
                return true;
        }
        return false;
    }

    private static int IndexOf(byte[] hay, byte[] needle)
    {
        for (int i = 0; i + needle.Length <= hay.Length; i++)
        {
            int j = 0;
            while (j < needle.Length && hay[i + j] == needle[j]) j++;
            if (j == needle.Length) return i;
        }
        return -1;
    }

    /// <returns>"patched", "already" or "absent"</returns>
    private string Weaken(string path)
    {
        var b = File.ReadAllBytes(path);
        if (b.Length < 64 || b[0] != 0x7f || b[1] != (byte)'E' || b[4] != 2 || b[5] != 1)
            throw new InvalidDataException("not a little-endian ELF64 file");
        long shoff = BitConverter.ToInt64(b, 0x28);
        int shentsize = BitConverter.ToUInt16(b, 0x3a);
        int shnum = BitConverter.ToUInt16(b, 0x3c);
        for (int s = 0; s < shnum; s++)
        {
            long sh = shoff + (long)s * shentsize;
            if (BitConverter.ToUInt32(b, (int)sh + 4) != ShtGnuVerneed)
                continue;
            long off = BitConverter.ToInt64(b, (int)sh + 0x18);
            uint link = BitConverter.ToUInt32(b, (int)sh + 0x28);
            long strOff = BitConverter.ToInt64(b, (int)(shoff + link * shentsize) + 0x18);
            long vn = off;
            while (true)
            {
                int cnt = BitConverter.ToUInt16(b, (int)vn + 2);
                long aux = vn + BitConverter.ToUInt32(b, (int)vn + 8);
                for (int a = 0; a < cnt; a++)
                {
                    uint name = BitConverter.ToUInt32(b, (int)aux + 8);
                    if (ReadCString(b, strOff + name) == Version)
                    {
                        ushort flags = BitConverter.ToUInt16(b, (int)aux + 4);
                        if ((flags & VerFlgWeak) != 0)
                            return "already";
                        BitConverter.GetBytes((ushort)(flags | VerFlgWeak)).CopyTo(b, (int)aux + 4);
                        var tmp = path + ".weak.tmp";
                        File.WriteAllBytes(tmp, b);
                        File.Replace(tmp, path, null);
                        return "patched";
                    }
                    aux += BitConverter.ToUInt32(b, (int)aux + 12);
                }
                uint next = BitConverter.ToUInt32(b, (int)vn + 12);
                if (next == 0) break;
                vn += next;
            }
        }
        return "absent";
    }

    private static string ReadCString(byte[] b, long at)
    {
        int end = (int)at;
        while (b[end] != 0) end++;
        return Encoding.ASCII.GetString(b, (int)at, end - (int)at);
    }
}
