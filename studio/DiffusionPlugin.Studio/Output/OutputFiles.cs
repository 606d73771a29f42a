namespace DiffusionPlugin.Studio.Output;

/// <summary>
/// Where results go, and how they get there safely: every target is checked before any work starts (no overwrite
/// without --force, the folder must be writable), and every file is written to a temporary name in the same folder
/// and renamed into place only when complete, so an error or Ctrl+C never leaves a half-written file behind.
/// </summary>
public sealed class OutputFiles
{
    readonly bool force;
    readonly HashSet<string> planned = new(StringComparer.Ordinal);

    public OutputFiles(bool force) => this.force = force;

    /// <summary>
    /// Checks that <paramref name="path"/> may be written: its folder exists or can be created, files can be created
    /// there, and the file does not exist yet (unless --force). Throws <see cref="StudioException"/> otherwise.
    /// </summary>
    public string Plan(string path)
    {
        string full = Path.GetFullPath(path);
        if (!planned.Add(full)) throw new StudioException($"{path}: two outputs would get the same name");
        if (Directory.Exists(full)) throw new StudioException($"{path}: is a folder; give a file name");
        if (File.Exists(full) && !force) throw new StudioException($"{path}: already exists (use --force to overwrite)");
        string folder = Path.GetDirectoryName(full)!;
        if (checkedFolders.Add(folder)) CheckWritableFolder(folder);
        return full;
    }

    readonly HashSet<string> checkedFolders = new(StringComparer.Ordinal);

    /// <summary>
    /// Proves <paramref name="folder"/> can hold new files without creating it yet (so a later refusal leaves no empty
    /// folders): the nearest folder that exists must be a folder, and a file can be created in it.
    /// </summary>
    public static void CheckWritableFolder(string folder)
    {
        string existing = folder;
        while (!Directory.Exists(existing))
        {
            if (File.Exists(existing)) throw new StudioException($"{folder}: cannot create the output folder ({existing} is a file)");
            existing = Path.GetDirectoryName(existing) ?? throw new StudioException($"{folder}: cannot create the output folder (no existing parent)");
        }
        string probe = Path.Combine(existing, $".diffusion-studio-probe-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose)) { }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StudioException($"{existing}: output folder is not writable ({FirstLine(e.Message)})");
        }
        finally
        {
            try { File.Delete(probe); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>
    /// Runs <paramref name="write"/> on a temporary file beside <paramref name="finalPath"/>, then renames it into place.
    /// On any failure the temporary file is deleted and the target is left as it was.
    /// </summary>
    public void Commit(string finalPath, Action<string> write)
    {
        string folder = Path.GetDirectoryName(finalPath)!;
        string temp = Path.Combine(folder, $".{Path.GetFileName(finalPath)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            Directory.CreateDirectory(folder);
            write(temp);
            File.Move(temp, finalPath, overwrite: force);
        }
        catch (IOException e) when (!force && File.Exists(finalPath))
        {
            throw new StudioException($"{finalPath}: appeared while writing; not overwritten (use --force) [{FirstLine(e.Message)}]");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StudioException($"{finalPath}: cannot write ({FirstLine(e.Message)})");
        }
        finally
        {
            try { if (File.Exists(temp)) File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    static string FirstLine(string s)
    {
        int i = s.IndexOfAny(['\r', '\n']);
        return (i < 0 ? s : s[..i]).TrimEnd('.');
    }
}
